//! `Table`: a small name → value map kept sorted, looked up by binary search. Policy maps
//! (tools, prompts, roles) have tens of entries and are read for every call and every listed
//! item; comparing a few short strings beats hashing each lookup with SipHash.

/// Name → value, sorted by name (byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table<V>(Vec<(String, V)>);

impl<V> Default for Table<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Table<V> {
    /// From entries in any order; a later duplicate name replaces the earlier one.
    pub fn new(mut entries: Vec<(String, V)>) -> Self {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut table: Vec<(String, V)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match table.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => table.push(entry),
            }
        }
        Self(table)
    }

    /// The entry named exactly `name`.
    pub fn get(&self, name: &str) -> Option<(&str, &V)> {
        self.0
            .binary_search_by(|(key, _)| key.as_str().cmp(name))
            .ok()
            .map(|index| (self.0[index].0.as_str(), &self.0[index].1))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn finds_exact_names_only() {
        let table = Table::new(vec![("b".to_string(), 2), ("a".to_string(), 1), ("b".to_string(), 3)]);
        assert_eq!(table.get("a"), Some(("a", &1)));
        assert_eq!(table.get("b"), Some(("b", &3)));
        assert_eq!(table.get("B"), None);
        assert_eq!(table.get(""), None);
        assert_eq!(table.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
    }
}
