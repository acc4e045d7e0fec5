//! The work-order form every pop carries, kept in memory by the hub: a pop
//! then reads from the store only what depends on its caller. Forms change
//! rarely; the web side tells the hub when it saves one, and the hub reads
//! them again every [`FormCache::REFRESH`] for changes made elsewhere (the
//! CLI, another process), on its tick rather than on a pop's path.

use crate::store::{FormDef, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The configured form (or, if it is missing, the first stored one).
pub struct FormCache {
    key: String,
    form: Option<Arc<FormDef>>,
    loaded_at: Option<Instant>,
}

impl FormCache {
    /// How stale a form changed outside this daemon may be.
    pub const REFRESH: Duration = Duration::from_secs(5);

    /// A cache of the form named `key`, empty until [`FormCache::reload`].
    pub fn new(key: &str) -> FormCache {
        FormCache {
            key: key.to_string(),
            form: None,
            loaded_at: None,
        }
    }

    /// The form a pop shows now.
    pub fn form(&self) -> Option<Arc<FormDef>> {
        self.form.clone()
    }

    /// Whether it is time to read the forms again.
    pub fn due(&self, now: Instant) -> bool {
        self.loaded_at
            .is_none_or(|at| now.saturating_duration_since(at) >= Self::REFRESH)
    }

    /// Reads the form from the store; on failure the last one read stays.
    pub fn reload(&mut self, store: &Store, now: Instant) -> crate::store::Result<()> {
        self.loaded_at = Some(now);
        let form = match store.workorders().form(&self.key)? {
            Some(f) => Some(f),
            None => store.workorders().forms()?.into_iter().next(),
        };
        if form.as_ref() != self.form.as_deref() {
            self.form = form.map(Arc::new);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(key: &str, title: &str) -> FormDef {
        FormDef {
            key: key.into(),
            name_zh: title.into(),
            name_en: title.into(),
            fields: Vec::new(),
            statuses: Vec::new(),
        }
    }

    #[test]
    fn reads_the_named_form_then_falls_back_and_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("f.db")).unwrap();
        let t0 = Instant::now();
        let mut cache = FormCache::new("service");
        assert!(cache.due(t0));
        cache.reload(&store, t0).unwrap();
        assert!(cache.form().is_none(), "no forms stored yet");
        assert!(!cache.due(t0 + Duration::from_secs(1)));
        assert!(cache.due(t0 + FormCache::REFRESH));

        store
            .workorders()
            .put_form(&form("other", "Other"))
            .unwrap();
        cache.reload(&store, t0).unwrap();
        assert_eq!(
            cache.form().unwrap().key,
            "other",
            "the first form stands in"
        );

        store
            .workorders()
            .put_form(&form("service", "Service"))
            .unwrap();
        cache.reload(&store, t0).unwrap();
        let first = cache.form().unwrap();
        assert_eq!(first.name_en, "Service");
        cache.reload(&store, t0).unwrap();
        assert!(
            Arc::ptr_eq(&first, &cache.form().unwrap()),
            "unchanged form kept as is"
        );

        store
            .workorders()
            .put_form(&form("service", "Service 2"))
            .unwrap();
        cache.reload(&store, t0).unwrap();
        assert_eq!(cache.form().unwrap().name_en, "Service 2");
    }
}
