//! The supervisor's contenders by component name.
//!
//! A vector kept sorted by name, grown one entry at a time: an election almost always has one
//! contender, and for one entry a `BTreeMap` node reserves room for eleven and a `Vec` grown by
//! `push` room for four (a contender is a few hundred bytes). Contenders are never removed, and
//! a supervisor with many of them is not a hot path, so the linear insert costs nothing that
//! matters.

use super::grant::Contender;

/// Subscribed contenders, in component-name order.
#[derive(Default)]
pub(super) struct Contenders(Vec<(String, Contender)>);

impl Contenders {
    fn position(&self, component: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(name, _)| name.as_str().cmp(component))
    }

    pub fn contains_key(&self, component: &str) -> bool {
        self.position(component).is_ok()
    }

    pub fn get(&self, component: &str) -> Option<&Contender> {
        self.position(component).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, component: &str) -> Option<&mut Contender> {
        self.position(component).ok().map(|i| &mut self.0[i].1)
    }

    /// Adds `contender` under `component`, replacing one of that name.
    pub fn insert(&mut self, component: String, contender: Contender) {
        match self.position(&component) {
            Ok(i) => self.0[i].1 = contender,
            Err(i) => {
                self.0.reserve_exact(1);
                self.0.insert(i, (component, contender));
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Contender)> {
        self.0.iter().map(|(name, contender)| (name, contender))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Contender)> {
        self.0.iter_mut().map(|(name, contender)| (&*name, contender))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }

    pub fn values(&self) -> impl Iterator<Item = &Contender> {
        self.0.iter().map(|(_, contender)| contender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::ContenderMeter;
    use actix::prelude::*;

    struct Sink;
    impl Actor for Sink {
        type Context = Context<Self>;
    }
    impl Handler<crate::contender::LeadershipEvent> for Sink {
        type Result = ();
        fn handle(&mut self, _: crate::contender::LeadershipEvent, _: &mut Context<Self>) {}
    }

    fn contender(address: &str) -> Contender {
        let recipient = Sink.start().recipient();
        Contender::new(recipient, address.to_owned(), format!("/leader/{address}"), ContenderMeter::new("/l", address))
    }

    #[actix_rt::test]
    async fn keeps_name_order_and_room_for_exactly_what_it_holds() {
        let mut all = Contenders::default();
        for name in ["b", "c", "a"] {
            all.insert(name.to_owned(), contender(name));
        }
        assert_eq!(all.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(all.0.capacity(), 3);
        assert_eq!(all.get("b").map(|c| c.address.as_str()), Some("b"));
        assert!(all.get("d").is_none() && !all.contains_key("d") && all.contains_key("c"));
        all.insert("b".to_owned(), contender("b2"));
        assert_eq!(all.iter().map(|(k, c)| format!("{k}={}", c.address)).collect::<Vec<_>>(), ["a=a", "b=b2", "c=c"]);
        for (_, c) in all.iter_mut() {
            c.address.push('!');
        }
        assert!(all.values().all(|c| c.address.ends_with('!')));
    }
}
