//! [`Vars`]: an ordered set of variables with constant-time lookup.

use std::collections::HashMap;
use std::fmt;

/// Ordered variable set: insertion order kept; setting an existing name updates its value in place.
///
/// Lookups go through a hash index kept beside the ordered entries, so `get` and `set` are O(1);
/// only [`Vars::remove`] is linear.
#[derive(Clone, Default, PartialEq)]
pub struct Vars {
    entries: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Vars {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.entries[i].1.as_str())
    }

    /// Whether `name` is set (possibly to the empty string).
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Sets `name`; an existing name keeps its position, a new one is appended.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.index.get(&name) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, value));
            }
        }
    }

    /// Removes `name` if present; the order of the other entries is kept.
    pub fn remove(&mut self, name: &str) {
        if let Some(i) = self.index.remove(name) {
            self.entries.remove(i);
            for (moved, _) in &self.entries[i..] {
                if let Some(slot) = self.index.get_mut(moved) {
                    *slot -= 1;
                }
            }
        }
    }

    /// Sets every entry of `other` in its order; `other`'s values win.
    pub fn extend(&mut self, other: &Vars) {
        for (name, value) in other.iter() {
            self.set(name, value);
        }
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'a> From<&[(&'a str, &'a str)]> for Vars {
    fn from(pairs: &[(&'a str, &'a str)]) -> Self {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }
}

impl FromIterator<(String, String)> for Vars {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut vars = Vars::new();
        for (name, value) in iter {
            vars.set(name, value);
        }
        vars
    }
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from(pairs)
    }

    fn names(v: &Vars) -> Vec<&str> {
        v.iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn set_appends_new_names_and_updates_in_place() {
        let mut v = Vars::new();
        v.set("A", "1");
        v.set("B", "2");
        v.set("A", "3");
        assert_eq!(names(&v), ["A", "B"]);
        assert_eq!(v.get("A"), Some("3"));
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn get_and_contains_distinguish_empty_from_unset() {
        let v = vars(&[("E", "")]);
        assert_eq!(v.get("E"), Some(""));
        assert!(v.contains("E"));
        assert_eq!(v.get("X"), None);
        assert!(!v.contains("X"));
    }

    #[test]
    fn remove_keeps_order_and_index_consistent() {
        let mut v = vars(&[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")]);
        v.remove("B");
        v.remove("missing");
        assert_eq!(names(&v), ["A", "C", "D"]);
        assert_eq!(v.get("C"), Some("3"));
        assert_eq!(v.get("D"), Some("4"));
        assert!(!v.contains("B"));
        v.set("C", "30");
        assert_eq!(v.iter().nth(1), Some(("C", "30")));
    }

    #[test]
    fn extend_lets_other_win_and_appends_new() {
        let mut v = vars(&[("A", "1"), ("B", "2")]);
        v.extend(&vars(&[("B", "b"), ("C", "c")]));
        assert_eq!(v, vars(&[("A", "1"), ("B", "b"), ("C", "c")]));
    }

    #[test]
    fn from_iter_later_duplicates_win() {
        let v = vars(&[("A", "1"), ("A", "2")]);
        assert_eq!(v.len(), 1);
        assert_eq!(v.get("A"), Some("2"));
    }

    #[test]
    fn empty_and_debug() {
        let v = Vars::new();
        assert!(v.is_empty());
        assert_eq!(format!("{:?}", vars(&[("K", "V")])), r#"{"K": "V"}"#);
    }

    #[test]
    fn equality_ignores_history() {
        let mut a = vars(&[("A", "1"), ("B", "2")]);
        a.remove("B");
        assert_eq!(a, vars(&[("A", "1")]));
    }
}
