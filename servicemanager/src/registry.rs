//! The service registry: names to objects, pure (no sockets, no threads).
//!
//! Generic over the object type so that it is tested with plain values; the daemon stores
//! binder references. Operations return what changed; the caller sends the notifications.

use std::collections::{BTreeMap, HashMap};

/// Longest service name, in bytes (Android's servicemanager limit).
pub const MAX_SERVICE_NAME_LEN: usize = 127;

/// Most services one uid may register (dbus-broker's default limit on names per user).
pub const MAX_SERVICES_PER_UID: usize = 50_000;

/// Most notification registrations (a name and a callback) one uid other than root's and the
/// daemon's may hold: each costs the daemon memory, and without a bound one user could grow it
/// without end by watching names that will never exist.
pub const MAX_WATCHES_PER_UID: usize = 4096;

/// Who registered a service, as the kernel identified the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
}

/// One registered service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<O> {
    /// The object.
    pub object: O,
    /// Who registered it.
    pub owner: Owner,
}

/// Why an add was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    /// The name is empty, too long, or has a character outside `[A-Za-z0-9._/-]`.
    #[error("invalid service name {0:?}: 1 to 127 characters of [A-Za-z0-9._/-]")]
    InvalidName(String),
    /// Another uid registered the name and may not be replaced by this caller.
    #[error("{name} is registered by uid {owner_uid}")]
    OwnedByOther {
        /// The name.
        name: String,
        /// Its owner's uid.
        owner_uid: u32,
    },
    /// The name is registered to another object, and the registration did not ask to replace it.
    #[error(
        "{name} is registered by pid {owner_pid} (uid {owner_uid}); replaceService replaces it"
    )]
    Registered {
        /// The name.
        name: String,
        /// Its owner's pid.
        owner_pid: i32,
        /// Its owner's uid.
        owner_uid: u32,
    },
    /// The uid registered as many services as its quota allows.
    #[error("uid {0} has registered the most services it may ({1})")]
    Quota(u32, usize),
    /// The uid holds as many notification registrations as it may.
    #[error("uid {0} holds the most notification registrations it may ({1}, MAX_WATCHES_PER_UID)")]
    WatchQuota(u32, usize),
}

/// Whether an add created or replaced an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    /// A new name.
    New,
    /// The same object was registered under this name already.
    Again,
    /// The name was registered; this object replaced that of `old`.
    Replaced {
        /// Who had registered it.
        old: Owner,
    },
}

/// What an add does when the name is registered to another object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Refuse ([`AddError::Registered`]): a second registration never silently wins.
    Refuse,
    /// Replace it (if the caller may replace that owner's).
    Replace,
}

/// Names to objects, plus who wants to hear of new registrations.
#[derive(Debug)]
pub struct Registry<O, C> {
    entries: BTreeMap<String, Entry<O>>,
    /// Per name, the callbacks to tell and the uid that registered each.
    callbacks: BTreeMap<String, Vec<(C, u32)>>,
    /// Entries per owner uid, for the quota.
    per_uid: HashMap<u32, usize>,
    /// Callbacks that hear of every name, with the uid and gid that registered each (the
    /// caller filters by what they may find).
    everything: Vec<(C, u32, u32)>,
    /// Notification registrations per uid, for theirs.
    watches_per_uid: HashMap<u32, usize>,
}

impl<O, C> Default for Registry<O, C> {
    fn default() -> Self {
        Registry {
            entries: BTreeMap::new(),
            callbacks: BTreeMap::new(),
            per_uid: HashMap::new(),
            everything: Vec::new(),
            watches_per_uid: HashMap::new(),
        }
    }
}

/// Checks a service name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVICE_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
}

impl<O: Clone + PartialEq, C: Clone + PartialEq> Registry<O, C> {
    /// Registers `object` as `name`. Registering the same object again changes nothing; another
    /// object replaces the entry only `on_conflict` = [`OnConflict::Replace`], and only the same
    /// uid's entry unless `may_replace_other` (policy); a uid registers at most `quota` names.
    /// Returns what happened and the callbacks to tell.
    pub fn add(
        &mut self,
        name: &str,
        object: O,
        owner: Owner,
        on_conflict: OnConflict,
        may_replace_other: bool,
        quota: usize,
    ) -> Result<(Added, Vec<C>), AddError> {
        if !valid_name(name) {
            return Err(AddError::InvalidName(name.to_owned()));
        }
        let added = match self.entries.get(name) {
            Some(e) if e.object == object && e.owner.uid == owner.uid => Added::Again,
            Some(e) if on_conflict == OnConflict::Refuse => {
                return Err(AddError::Registered {
                    name: name.to_owned(),
                    owner_pid: e.owner.pid,
                    owner_uid: e.owner.uid,
                });
            }
            Some(e) if e.owner.uid != owner.uid && !may_replace_other => {
                return Err(AddError::OwnedByOther {
                    name: name.to_owned(),
                    owner_uid: e.owner.uid,
                });
            }
            Some(e) => Added::Replaced { old: e.owner },
            None if self.count_for(owner.uid) >= quota => {
                return Err(AddError::Quota(owner.uid, quota))
            }
            None => Added::New,
        };
        if let Some(old) = self
            .entries
            .insert(name.to_owned(), Entry { object, owner })
        {
            self.uncount(old.owner.uid);
        }
        *self.per_uid.entry(owner.uid).or_default() += 1;
        Ok((added, self.callbacks_of(name)))
    }

    fn count_for(&self, uid: u32) -> usize {
        self.per_uid.get(&uid).copied().unwrap_or(0)
    }

    fn uncount(&mut self, uid: u32) {
        if let Some(n) = self.per_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.per_uid.remove(&uid);
            }
        }
    }

    /// The entry registered as `name`.
    pub fn get(&self, name: &str) -> Option<&Entry<O>> {
        self.entries.get(name)
    }

    /// Every registered name, sorted.
    pub fn list(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Every entry, sorted by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry<O>)> {
        self.entries.iter().map(|(n, e)| (n.as_str(), e))
    }

    /// Removes every entry whose object `gone` says is gone (its owner died); returns their
    /// names and, for each, the callbacks to tell.
    pub fn remove_where(&mut self, gone: impl Fn(&O) -> bool) -> Vec<(String, Vec<C>)> {
        let names: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| gone(&e.object))
            .map(|(n, _)| n.clone())
            .collect();
        names
            .into_iter()
            .map(|n| {
                if let Some(old) = self.entries.remove(&n) {
                    self.uncount(old.owner.uid);
                }
                let cbs = self.callbacks_of(&n);
                (n, cbs)
            })
            .collect()
    }

    /// Asks for `callback` to be told when `name` is registered, for `uid`, which may hold
    /// `quota` registrations at most. Returns the current entry, of which the caller tells the
    /// callback at once.
    pub fn watch(
        &mut self,
        name: &str,
        callback: C,
        uid: u32,
        quota: usize,
    ) -> Result<Option<&Entry<O>>, AddError> {
        if !valid_name(name) {
            return Err(AddError::InvalidName(name.to_owned()));
        }
        let cbs = self.callbacks.entry(name.to_owned()).or_default();
        if !cbs.iter().any(|(c, _)| *c == callback) {
            let held = self.watches_per_uid.entry(uid).or_default();
            if *held >= quota {
                if cbs.is_empty() {
                    self.callbacks.remove(name);
                }
                return Err(AddError::WatchQuota(uid, quota));
            }
            *held += 1;
            cbs.push((callback, uid));
        }
        Ok(self.entries.get(name))
    }

    /// Asks for `callback` to be told of every registration and removal, for `uid` and `gid`
    /// (one registration against `quota`, as [`watch`](Self::watch)).
    pub fn watch_all(
        &mut self,
        callback: C,
        uid: u32,
        gid: u32,
        quota: usize,
    ) -> Result<(), AddError> {
        if self.everything.iter().any(|(c, ..)| *c == callback) {
            return Ok(());
        }
        let held = self.watches_per_uid.entry(uid).or_default();
        if *held >= quota {
            return Err(AddError::WatchQuota(uid, quota));
        }
        *held += 1;
        self.everything.push((callback, uid, gid));
        Ok(())
    }

    /// Withdraws a [`watch_all`](Self::watch_all); false if it was not registered.
    pub fn unwatch_all(&mut self, callback: &C) -> bool {
        let Some(at) = self.everything.iter().position(|(c, ..)| c == callback) else {
            return false;
        };
        let (_, uid, _) = self.everything.remove(at);
        self.unwatched(uid);
        true
    }

    /// The callbacks that hear of every name, with the uid and gid that registered each.
    pub fn watching_all(&self) -> Vec<(C, u32, u32)> {
        self.everything.clone()
    }

    /// Withdraws a callback; false if it was not registered.
    pub fn unwatch(&mut self, name: &str, callback: &C) -> bool {
        let Some(cbs) = self.callbacks.get_mut(name) else {
            return false;
        };
        let Some(at) = cbs.iter().position(|(c, _)| c == callback) else {
            return false;
        };
        let (_, uid) = cbs.remove(at);
        if cbs.is_empty() {
            self.callbacks.remove(name);
        }
        self.unwatched(uid);
        true
    }

    /// Drops the callbacks `gone` says are gone (their process died), from every name.
    pub fn forget_callbacks_where(&mut self, gone: impl Fn(&C) -> bool) {
        let mut freed = Vec::new();
        self.callbacks.retain(|_, cbs| {
            cbs.retain(|(c, uid)| {
                let keep = !gone(c);
                if !keep {
                    freed.push(*uid);
                }
                keep
            });
            !cbs.is_empty()
        });
        self.everything.retain(|(c, uid, _)| {
            let keep = !gone(c);
            if !keep {
                freed.push(*uid);
            }
            keep
        });
        for uid in freed {
            self.unwatched(uid);
        }
    }

    fn unwatched(&mut self, uid: u32) {
        if let Some(n) = self.watches_per_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.watches_per_uid.remove(&uid);
            }
        }
    }

    /// The callbacks registered for `name`, in the order they were registered.
    pub fn callbacks_of(&self, name: &str) -> Vec<C> {
        self.callbacks
            .get(name)
            .map(|cbs| cbs.iter().map(|(c, _)| c.clone()).collect())
            .unwrap_or_default()
    }

    /// Removes `name` if its object is `object`; true if it did.
    pub fn remove_if_object(&mut self, name: &str, object: &O) -> bool {
        let matches = self.entries.get(name).is_some_and(|e| e.object == *object);
        if matches {
            if let Some(old) = self.entries.remove(name) {
                self.uncount(old.owner.uid);
            }
        }
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Owner = Owner { pid: 10, uid: 1000 };
    const BOB: Owner = Owner { pid: 20, uid: 1001 };

    #[test]
    fn add_get_replace_and_refuse() {
        let mut r: Registry<&str, u8> = Registry::default();
        assert_eq!(
            r.add(
                "media.player",
                "obj1",
                ALICE,
                OnConflict::Refuse,
                false,
                MAX_SERVICES_PER_UID
            )
            .unwrap()
            .0,
            Added::New
        );
        assert_eq!(r.get("media.player").unwrap().object, "obj1");
        let again = r.add(
            "media.player",
            "obj1",
            ALICE,
            OnConflict::Refuse,
            false,
            MAX_SERVICES_PER_UID,
        );
        assert_eq!(again.unwrap().0, Added::Again, "the same object again");
        assert_eq!(
            r.add(
                "media.player",
                "obj2",
                ALICE,
                OnConflict::Refuse,
                false,
                MAX_SERVICES_PER_UID
            ),
            Err(AddError::Registered {
                name: "media.player".into(),
                owner_pid: 10,
                owner_uid: 1000
            }),
            "a second registration does not silently win"
        );
        assert_eq!(
            r.add(
                "media.player",
                "obj2",
                ALICE,
                OnConflict::Replace,
                false,
                MAX_SERVICES_PER_UID
            )
            .unwrap()
            .0,
            Added::Replaced { old: ALICE }
        );
        assert_eq!(
            r.add(
                "media.player",
                "obj3",
                BOB,
                OnConflict::Replace,
                false,
                MAX_SERVICES_PER_UID
            ),
            Err(AddError::OwnedByOther {
                name: "media.player".into(),
                owner_uid: 1000
            })
        );
        assert_eq!(
            r.add(
                "media.player",
                "obj3",
                BOB,
                OnConflict::Replace,
                true,
                MAX_SERVICES_PER_UID
            )
            .unwrap()
            .0,
            Added::Replaced { old: ALICE }
        );
        assert_eq!(r.list(), vec!["media.player".to_string()]);
    }

    #[test]
    fn names_are_checked_at_the_edge() {
        let mut r: Registry<u8, u8> = Registry::default();
        let longest = "a".repeat(MAX_SERVICE_NAME_LEN);
        assert!(r
            .add(
                &longest,
                1,
                ALICE,
                OnConflict::Refuse,
                false,
                MAX_SERVICES_PER_UID
            )
            .is_ok());
        let too_long = "a".repeat(MAX_SERVICE_NAME_LEN + 1);
        assert!(matches!(
            r.add(
                &too_long,
                1,
                ALICE,
                OnConflict::Refuse,
                false,
                MAX_SERVICES_PER_UID
            ),
            Err(AddError::InvalidName(_))
        ));
        for bad in ["", "with space", "semi;colon", "ünï"] {
            assert!(
                matches!(
                    r.add(
                        bad,
                        1,
                        ALICE,
                        OnConflict::Refuse,
                        false,
                        MAX_SERVICES_PER_UID
                    ),
                    Err(AddError::InvalidName(_))
                ),
                "{bad}"
            );
        }
        assert!(r
            .add(
                "android.hardware.foo/default",
                1,
                ALICE,
                OnConflict::Refuse,
                false,
                MAX_SERVICES_PER_UID
            )
            .is_ok());
    }

    #[test]
    fn quota_per_uid() {
        const QUOTA: usize = 3;
        let mut r: Registry<u8, u8> = Registry::default();
        for i in 0..QUOTA {
            r.add(&format!("s{i}"), 1, ALICE, OnConflict::Refuse, false, QUOTA)
                .unwrap();
        }
        assert_eq!(
            r.add("one.more", 1, ALICE, OnConflict::Refuse, false, QUOTA),
            Err(AddError::Quota(1000, QUOTA))
        );
        assert!(
            r.add("s0", 2, ALICE, OnConflict::Replace, false, QUOTA)
                .is_ok(),
            "replacing is not growing"
        );
        assert!(r
            .add("bob.s", 1, BOB, OnConflict::Refuse, false, QUOTA)
            .is_ok());
        r.remove_where(|o| *o == 2);
        assert!(
            r.add("one.more", 1, ALICE, OnConflict::Refuse, false, QUOTA)
                .is_ok(),
            "a removal frees a place"
        );
    }

    /// A uid holds `quota` notification registrations at most (the same one again is free),
    /// and gets its places back as they are withdrawn or their holder dies.
    #[test]
    fn notification_registrations_are_bounded_per_uid() {
        let mut r: Registry<&str, u8> = Registry::default();
        r.watch("a", 1, ALICE.uid, 2).unwrap();
        r.watch("b", 1, ALICE.uid, 2).unwrap();
        r.watch("b", 1, ALICE.uid, 2).unwrap();
        assert_eq!(
            r.watch("c", 1, ALICE.uid, 2),
            Err(AddError::WatchQuota(ALICE.uid, 2))
        );
        assert!(r.callbacks_of("c").is_empty(), "nothing left behind");
        r.watch("c", 2, BOB.uid, 2).unwrap();
        assert!(r.unwatch("a", &1));
        r.watch("c", 1, ALICE.uid, 2).unwrap();
        assert_eq!(r.callbacks_of("c"), vec![2, 1], "in the order registered");
        r.forget_callbacks_where(|c| *c == 1);
        r.watch("d", 3, ALICE.uid, 2).unwrap();
        // Every name at once counts as one.
        assert_eq!(
            r.watch_all(4, ALICE.uid, 7, 1),
            Err(AddError::WatchQuota(ALICE.uid, 1))
        );
        r.watch_all(4, BOB.uid, 7, 2).unwrap();
        assert_eq!(r.watching_all(), vec![(4, BOB.uid, 7)]);
        assert!(r.unwatch_all(&4) && !r.unwatch_all(&4));
        r.watch_all(5, ALICE.uid, 7, 2).unwrap();
        r.watch("e", 3, ALICE.uid, 2).unwrap_err();
        r.forget_callbacks_where(|c| *c == 5);
        r.watch("e", 3, ALICE.uid, 2).unwrap();
    }

    #[test]
    fn callbacks_and_owner_death() {
        let mut r: Registry<&str, u8> = Registry::default();
        assert!(r.watch("later", 7, 1, 9).unwrap().is_none());
        r.watch("later", 7, 1, 9).unwrap();
        let (_, told) = r
            .add(
                "later",
                "obj",
                ALICE,
                OnConflict::Refuse,
                false,
                MAX_SERVICES_PER_UID,
            )
            .unwrap();
        assert_eq!(told, vec![7], "one callback, registered once");
        r.add(
            "other",
            "obj",
            ALICE,
            OnConflict::Refuse,
            false,
            MAX_SERVICES_PER_UID,
        )
        .unwrap();
        r.add(
            "kept",
            "obj2",
            BOB,
            OnConflict::Refuse,
            false,
            MAX_SERVICES_PER_UID,
        )
        .unwrap();
        let removed = r.remove_where(|o| *o == "obj");
        assert_eq!(
            removed,
            vec![
                ("later".to_string(), vec![7]),
                ("other".to_string(), vec![])
            ]
        );
        assert_eq!(r.list(), vec!["kept".to_string()]);
        assert!(r.unwatch("later", &7));
        assert!(!r.unwatch("later", &7));
        r.watch("a", 1, 1, 9).unwrap();
        r.watch("b", 1, 1, 9).unwrap();
        r.watch("b", 2, 1, 9).unwrap();
        r.forget_callbacks_where(|c| *c == 1);
        assert!(!r.unwatch("a", &1) && !r.unwatch("b", &1) && r.unwatch("b", &2));
        assert!(!r.remove_if_object("kept", &"obj"));
        assert!(r.remove_if_object("kept", &"obj2"));
    }
}
