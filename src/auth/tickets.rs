//! One-time tickets that open the desktop websocket for another system's
//! page (callpop.js in a web CRM). A browser cannot put an
//! `Authorization` header on a websocket, and an API token in a URL would
//! be written into every proxy's log; so the holder of a token trades it
//! for a ticket that works once, within a minute, for one user. Kept in
//! memory only: a restart voids them, and a client simply asks again.

use std::collections::HashMap;

/// How long a ticket may wait for its websocket.
pub const TICKET_TTL_MS: i64 = 60_000;

/// At most this many tickets wait at once (a runaway client is refused,
/// not allowed to grow the daemon's memory).
pub const MAX_OPEN_TICKETS: usize = 10_000;

/// At most this many wait for one credential: one runaway client cannot
/// take every other system's tickets.
pub const MAX_TICKETS_PER_CREDENTIAL: usize = 20;

/// What a redeemed ticket stands for: the user whose desktop it opens and
/// the credential (`C`, the web side's session or token) that asked for
/// it, which the desktop stays tied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed<C> {
    pub username: String,
    pub credential: C,
}

/// The open tickets, by the hash of each ticket.
#[derive(Debug)]
pub struct Tickets<C> {
    open: HashMap<String, (Redeemed<C>, i64)>,
}

impl<C> Default for Tickets<C> {
    fn default() -> Self {
        Tickets {
            open: HashMap::new(),
        }
    }
}

/// A ticket could not be made: too many wait already (for its credential,
/// or in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyTickets;

impl<C: PartialEq> Tickets<C> {
    /// A new ticket for `username` at `now` (ms), and when it expires.
    pub fn issue(
        &mut self,
        username: &str,
        credential: C,
        now: i64,
    ) -> Result<(String, i64), TooManyTickets> {
        let waiting_for_it = self
            .open
            .values()
            .filter(|(r, expires)| *expires > now && r.credential == credential)
            .count();
        if waiting_for_it >= MAX_TICKETS_PER_CREDENTIAL {
            return Err(TooManyTickets);
        }
        if self.open.len() >= MAX_OPEN_TICKETS {
            // Expired ones are dropped only when they would crowd out a
            // live one: the map never holds more than the cap either way.
            self.open.retain(|_, (_, expires)| *expires > now);
            if self.open.len() >= MAX_OPEN_TICKETS {
                return Err(TooManyTickets);
            }
        }
        let ticket = format!("cpt_{}", super::new_token());
        let expires_at = now + TICKET_TTL_MS;
        self.open.insert(
            super::token_hash(&ticket),
            (
                Redeemed {
                    username: username.to_string(),
                    credential,
                },
                expires_at,
            ),
        );
        Ok((ticket, expires_at))
    }

    /// What `ticket` stands for, once: a second use, an unknown ticket or
    /// one past its time gets nothing.
    pub fn redeem(&mut self, ticket: &str, now: i64) -> Option<Redeemed<C>> {
        let (redeemed, expires_at) = self.open.remove(&super::token_hash(ticket))?;
        (expires_at > now).then_some(redeemed)
    }

    /// How many tickets are kept (expired ones included until room is needed).
    pub fn waiting(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_works_once_and_within_its_minute() {
        let mut t = Tickets::<&str>::default();
        let (a, expires) = t.issue("agent1", "token-hash", 1_000).unwrap();
        assert_eq!(expires, 1_000 + TICKET_TTL_MS);
        assert!(a.starts_with("cpt_") && a.len() > 40);
        let got = t.redeem(&a, 2_000).unwrap();
        assert_eq!(got.username, "agent1");
        assert_eq!(got.credential, "token-hash");
        assert_eq!(t.redeem(&a, 2_000), None, "a second use");
        let (b, expires) = t.issue("agent2", "s", 1_000).unwrap();
        assert_eq!(t.redeem(&b, expires), None, "at its expiry");
        assert_eq!(t.redeem("cpt_made-up", 1_000), None);
        assert_eq!(t.waiting(), 0);
    }

    #[test]
    fn expired_tickets_make_room_and_a_flood_is_refused() {
        let mut t = Tickets::<usize>::default();
        for i in 0..MAX_OPEN_TICKETS {
            t.issue("agent1", i / MAX_TICKETS_PER_CREDENTIAL, 0)
                .unwrap();
        }
        assert_eq!(t.issue("agent1", usize::MAX, 1), Err(TooManyTickets));
        // A minute later the old ones are gone.
        assert!(t.issue("agent1", 0, TICKET_TTL_MS).is_ok());
        assert_eq!(t.waiting(), 1);
    }

    #[test]
    fn one_credential_cannot_take_everyones_tickets() {
        let mut t = Tickets::<&str>::default();
        for _ in 0..MAX_TICKETS_PER_CREDENTIAL {
            t.issue("agent1", "runaway", 0).unwrap();
        }
        assert_eq!(t.issue("agent1", "runaway", 1), Err(TooManyTickets));
        assert!(t.issue("agent2", "another CRM", 1).is_ok());
        // Used or expired, they count no more.
        assert!(t.issue("agent1", "runaway", TICKET_TTL_MS).is_ok());
    }
}
