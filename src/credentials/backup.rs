//! `portcullis state export` / `import`: every key, revocation, refresh family and refresh
//! record as JSON lines (keys stay hashed: a backup never holds a usable credential). Import
//! checks every line before writing any, so a bad file changes nothing; the embedded store
//! then writes all in one transaction, Redis record by record (the same ids: a rerun after a
//! failure completes it).

use serde::Serialize;

use super::lifecycle::Credentials;
use super::record::Record as Line;
use super::store::StoreError;

/// Counts of what an import wrote.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Imported {
    pub keys: usize,
    pub revocations: usize,
    pub families: usize,
    pub refresh: usize,
}

impl Credentials {
    /// Every record as backup lines.
    pub async fn export(&self) -> Result<Vec<String>, StoreError> {
        let mut lines = Vec::new();
        let mut push = |line: Line| {
            lines.push(serde_json::to_string(&line).unwrap_or_default());
        };
        for key in self.store.keys().await? {
            push(Line::Key(key));
        }
        for revocation in self.store.revocations().await? {
            push(Line::Revocation(revocation));
        }
        for family in self.store.families().await? {
            push(Line::Family(family));
        }
        for record in self.store.refresh_records().await? {
            push(Line::Refresh(record));
        }
        Ok(lines)
    }

    /// Reads backup `text`; every line is checked first (`Err` names the first bad line and
    /// nothing is written), then all are stored.
    pub async fn import(&self, text: &str) -> Result<Imported, String> {
        let mut lines = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", index + 1))?;
            if let Line::Key(key) = &parsed
                && key.digest().is_none()
            {
                return Err(format!("line {}: hash must be 64 hex digits", index + 1));
            }
            lines.push(parsed);
        }
        let mut done = Imported::default();
        for line in &lines {
            match line {
                Line::Key(_) => done.keys += 1,
                Line::Revocation(_) => done.revocations += 1,
                Line::Family(_) => done.families += 1,
                Line::Refresh(_) => done.refresh += 1,
            }
        }
        self.store.import(lines).await.map_err(|e| e.to_string())?;
        self.load().await.map_err(|e| e.to_string())?;
        Ok(done)
    }
}
