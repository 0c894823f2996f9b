//! `portcullis state export [--out FILE]` and `portcullis state import FILE`: backups of the
//! credential store as JSON lines (keys stay hashed). Import checks every line before it
//! writes any.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::access::{self, AdminArgs, Failure};

pub(super) fn export(out: Option<PathBuf>, path: &Path) -> ExitCode {
    access::run(path, &AdminArgs::default(), async |_, access| {
        let lines = access.direct()?.export().await.map_err(|e| Failure(e.to_string(), 2))?;
        let mut text = lines.join("\n");
        text.push('\n');
        match &out {
            Some(file) => {
                // Written whole under a temporary name, then renamed: never a half backup.
                let partial = file.with_extension("partial");
                std::fs::write(&partial, &text)
                    .and_then(|()| std::fs::rename(&partial, file))
                    .map_err(|e| Failure(format!("{}: {e}", file.display()), 2))?;
                super::write_err(&format!("exported {} records to {}", lines.len(), file.display()));
            }
            None => super::write_out(text.trim_end()),
        }
        Ok(())
    })
}

pub(super) fn import(file: PathBuf, path: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) => {
            super::write_err(&format!("{}: {error}", file.display()));
            return ExitCode::from(1);
        }
    };
    access::run(path, &AdminArgs::default(), async |_, access| {
        let done = access
            .direct()?
            .import(&text)
            .await
            .map_err(|e| Failure(format!("{}: {e}", file.display()), 1))?;
        super::write_out(&serde_json::to_string(&done).unwrap_or_default());
        Ok(())
    })
}
