//! Desktop sessions: the numbered messages of each session, the replay log
//! a reconnecting desktop resumes from, and the bounded queue towards its
//! socket. Pure state over `now`: the hub task calls it and never waits,
//! a desktop whose queue is full is cut off and resumes later.

use super::protocol::envelope;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A connection of a desktop, as the web side numbers it.
pub type ConnId = u64;

/// How long a disconnected session is kept for a resume.
pub const RESUME_GRACE: Duration = Duration::from_secs(120);

/// One desktop session: it outlives its connections for [`RESUME_GRACE`].
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    /// The seq of the last message sent.
    pub seq: u64,
    /// Which call each recent pop was, to credit its acknowledgement.
    pop_seqs: VecDeque<(u64, String)>,
    log: VecDeque<(u64, Arc<str>)>,
    out: Option<mpsc::Sender<Arc<str>>>,
    conn: Option<ConnId>,
    detached_at: Option<Instant>,
}

impl Session {
    /// Whether a connection is attached (heartbeats go to those only).
    pub fn is_attached(&self) -> bool {
        self.out.is_some()
    }

    /// Queues `frame` without waiting; false (and detached) if the desktop
    /// is gone or too slow to take it.
    fn push(&mut self, frame: Arc<str>, now: Instant) -> bool {
        let Some(out) = &self.out else {
            return false;
        };
        match out.try_send(frame) {
            Ok(()) => true,
            Err(e) => {
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    tracing::warn!(session = %self.id, "desktop too slow: disconnected, it may resume");
                }
                self.out = None;
                self.detached_at = Some(now);
                false
            }
        }
    }
}

/// What became of a `resume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// The missed messages were queued again, then `resumed` is due.
    Replayed { session_id: String, count: usize },
    /// The desktop must start over from a `snapshot` in this session.
    Snapshot {
        session_id: String,
        reason: &'static str,
    },
    /// The connection is unknown or was cut while replaying.
    Nothing,
}

/// Every session, by id, with indexes by connection and by user.
#[derive(Debug)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
    by_conn: HashMap<ConnId, String>,
    by_user: HashMap<i64, Vec<String>>,
    replay_log: usize,
}

impl Sessions {
    /// No sessions; each keeps its last `replay_log` messages.
    pub fn new(replay_log: usize) -> Sessions {
        Sessions {
            by_id: HashMap::new(),
            by_conn: HashMap::new(),
            by_user: HashMap::new(),
            replay_log: replay_log.max(1),
        }
    }

    /// Opens session `id` for a new connection.
    pub fn open(&mut self, id: String, conn: ConnId, user_id: i64, out: mpsc::Sender<Arc<str>>) {
        self.by_id.insert(
            id.clone(),
            Session {
                id: id.clone(),
                user_id,
                seq: 0,
                pop_seqs: VecDeque::new(),
                log: VecDeque::new(),
                out: Some(out),
                conn: Some(conn),
                detached_at: None,
            },
        );
        self.by_conn.insert(conn, id.clone());
        self.by_user.entry(user_id).or_default().push(id);
    }

    /// The session a connection is attached to.
    pub fn of_conn(&self, conn: ConnId) -> Option<&Session> {
        self.by_conn.get(&conn).and_then(|id| self.by_id.get(id))
    }

    /// The user of session `id`.
    pub fn user_of(&self, id: &str) -> Option<i64> {
        self.by_id.get(id).map(|s| s.user_id)
    }

    /// The ids of a user's sessions.
    pub fn of_user(&self, user_id: i64) -> &[String] {
        self.by_user.get(&user_id).map_or(&[], Vec::as_slice)
    }

    /// Whether the user has any session, attached or waiting for a resume.
    pub fn user_present(&self, user_id: i64) -> bool {
        !self.of_user(user_id).is_empty()
    }

    /// The connection is gone: its session waits for a resume.
    pub fn detach(&mut self, conn: ConnId, now: Instant) {
        let Some(id) = self.by_conn.remove(&conn) else {
            return;
        };
        if let Some(s) = self.by_id.get_mut(&id) {
            if s.conn == Some(conn) {
                s.out = None;
                s.conn = None;
                s.detached_at = Some(now);
            }
        }
    }

    /// Numbers, keeps and queues one message; returns its seq.
    pub fn send(&mut self, id: &str, kind: &str, data: &str, now: Instant) -> Option<u64> {
        let limit = self.replay_log;
        let s = self.by_id.get_mut(id)?;
        s.seq += 1;
        let frame: Arc<str> = envelope(s.seq, kind, data).into();
        s.log.push_back((s.seq, frame.clone()));
        while s.log.len() > limit {
            s.log.pop_front();
        }
        s.push(frame, now);
        Some(s.seq)
    }

    /// Sends to every session of a user.
    pub fn send_user(&mut self, user_id: i64, kind: &str, data: &str, now: Instant) {
        let ids = self.of_user(user_id).to_vec();
        for id in ids {
            self.send(&id, kind, data, now);
        }
    }

    /// Sends in the session of a connection.
    pub fn send_conn(&mut self, conn: ConnId, kind: &str, data: &str, now: Instant) {
        if let Some(id) = self.by_conn.get(&conn).cloned() {
            self.send(&id, kind, data, now);
        }
    }

    /// Sends a pop (`call.ringing`) and notes which call its seq is.
    pub fn send_pop(&mut self, id: &str, call_id: &str, data: &str, now: Instant) {
        let limit = self.replay_log;
        if let Some(seq) = self.send(id, "call.ringing", data, now) {
            if let Some(s) = self.by_id.get_mut(id) {
                s.pop_seqs.push_back((seq, call_id.to_string()));
                while s.pop_seqs.len() > limit {
                    s.pop_seqs.pop_front();
                }
            }
        }
    }

    /// The user and the call whose pop a connection acknowledges.
    pub fn acked_call(&self, conn: ConnId, seq: u64) -> Option<(i64, String)> {
        let s = self.of_conn(conn)?;
        let call = s.pop_seqs.iter().find(|(n, _)| *n == seq)?.1.clone();
        Some((s.user_id, call))
    }

    /// Moves connection `conn` (whose fresh session is dropped) onto the
    /// earlier session `old` and queues what it missed after `last_seq`.
    pub fn resume(&mut self, conn: ConnId, old: &str, last_seq: u64, now: Instant) -> Resumed {
        let Some(new_id) = self.by_conn.get(&conn).cloned() else {
            return Resumed::Nothing;
        };
        let user_id = self.by_id.get(&new_id).map(|s| s.user_id);
        let resumable = new_id != old
            && self
                .by_id
                .get(old)
                .is_some_and(|s| Some(s.user_id) == user_id);
        if !resumable {
            return Resumed::Snapshot {
                session_id: new_id,
                reason: "unknown session",
            };
        }
        let Some(new) = self.remove(&new_id) else {
            return Resumed::Nothing;
        };
        self.by_conn.insert(conn, old.to_string());
        let Some(s) = self.by_id.get_mut(old) else {
            return Resumed::Nothing;
        };
        s.out = new.out;
        s.conn = Some(conn);
        s.detached_at = None;
        let complete = last_seq <= s.seq
            && s.log
                .front()
                .is_none_or(|(first, _)| *first <= last_seq + 1);
        if !complete {
            return Resumed::Snapshot {
                session_id: old.to_string(),
                reason: "too much missed",
            };
        }
        let missed: Vec<Arc<str>> = s
            .log
            .iter()
            .filter(|(seq, _)| *seq > last_seq)
            .map(|(_, f)| f.clone())
            .collect();
        let count = missed.len();
        for frame in missed {
            if !s.push(frame, now) {
                return Resumed::Nothing;
            }
        }
        Resumed::Replayed {
            session_id: old.to_string(),
            count,
        }
    }

    /// Queues a heartbeat (carrying the latest seq, not numbered itself)
    /// to every attached session.
    pub fn heartbeats(&mut self, now: Instant) {
        for s in self.by_id.values_mut().filter(|s| s.is_attached()) {
            let frame: Arc<str> = envelope(s.seq, "heartbeat", "{}").into();
            s.push(frame, now);
        }
    }

    /// Users who have sessions but none attached, every one detached for
    /// longer than `allowance` (they closed the browser or lost the
    /// network): the wallboard shows them offline and team pops skip them.
    pub fn absent_users(&self, now: Instant, allowance: Duration) -> Vec<i64> {
        self.by_user
            .iter()
            .filter(|(_, ids)| {
                ids.iter().all(|id| {
                    self.by_id.get(id).is_some_and(|s| {
                        s.detached_at
                            .is_some_and(|t| now.duration_since(t) > allowance)
                    })
                })
            })
            .map(|(user, _)| *user)
            .collect()
    }

    /// Drops sessions detached for longer than [`RESUME_GRACE`]; returns
    /// the users left with no session at all.
    pub fn expire(&mut self, now: Instant) -> Vec<i64> {
        let expired: Vec<String> = self
            .by_id
            .values()
            .filter(|s| {
                s.detached_at
                    .is_some_and(|t| now.duration_since(t) > RESUME_GRACE)
            })
            .map(|s| s.id.clone())
            .collect();
        let mut gone = Vec::new();
        for id in expired {
            if let Some(s) = self.remove(&id) {
                if !self.user_present(s.user_id) && !gone.contains(&s.user_id) {
                    gone.push(s.user_id);
                }
            }
        }
        gone
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let s = self.by_id.remove(id)?;
        if let Some(ids) = self.by_user.get_mut(&s.user_id) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_user.remove(&s.user_id);
            }
        }
        Some(s)
    }
}

/// Every frame queued on `rx` so far, parsed (for the pop cores' tests).
#[cfg(test)]
pub(crate) fn queued_frames(rx: &mut mpsc::Receiver<Arc<str>>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while let Ok(f) = rx.try_recv() {
        out.push(serde_json::from_str(&f).unwrap());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::queued_frames as frames;
    use super::*;

    #[test]
    fn messages_are_numbered_per_session_and_pops_remember_their_call() {
        let now = Instant::now();
        let mut s = Sessions::new(8);
        let (tx, mut rx) = mpsc::channel(16);
        s.open("s1".into(), 1, 7, tx);
        s.send("s1", "hello", "{}", now);
        s.send_pop("s1", "call-a", r#"{"call_id":"call-a"}"#, now);
        s.send_user(7, "agent.state", "{}", now);
        let got = frames(&mut rx);
        let seqs: Vec<u64> = got.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(got[1]["type"], "call.ringing");
        assert_eq!(s.acked_call(1, 2), Some((7, "call-a".to_string())));
        assert_eq!(s.acked_call(1, 3), None, "not a pop");
        assert_eq!(s.acked_call(2, 2), None, "not this connection");
    }

    #[test]
    fn a_resume_replays_what_was_missed_or_asks_for_a_snapshot() {
        let now = Instant::now();
        let mut s = Sessions::new(3);
        let (tx, _rx) = mpsc::channel(16);
        s.open("old".into(), 1, 7, tx);
        for _ in 0..3 {
            s.send("old", "x", "{}", now);
        }
        s.detach(1, now);
        s.send("old", "x", "{}", now); // seq 4, logged while away
        let (tx2, mut rx2) = mpsc::channel(16);
        s.open("new".into(), 2, 7, tx2);
        assert_eq!(
            s.resume(2, "old", 2, now),
            Resumed::Replayed {
                session_id: "old".into(),
                count: 2
            }
        );
        let seqs: Vec<u64> = frames(&mut rx2)
            .iter()
            .map(|f| f["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [3, 4]);
        assert_eq!(
            s.of_user(7),
            ["old".to_string()],
            "the fresh session is gone"
        );
        // Too far back for a log of three: a snapshot in the old session.
        s.detach(2, now);
        for _ in 0..5 {
            s.send("old", "x", "{}", now);
        }
        let (tx3, _rx3) = mpsc::channel(16);
        s.open("newer".into(), 3, 7, tx3);
        assert_eq!(
            s.resume(3, "old", 4, now),
            Resumed::Snapshot {
                session_id: "old".into(),
                reason: "too much missed"
            }
        );
        // Someone else's session is never resumed.
        let (tx4, _rx4) = mpsc::channel(16);
        s.open("other".into(), 4, 8, tx4);
        assert!(matches!(
            s.resume(4, "old", 9, now),
            Resumed::Snapshot { session_id, reason: "unknown session" } if session_id == "other"
        ));
    }

    #[test]
    fn a_full_queue_cuts_the_desktop_off_and_detached_sessions_expire() {
        let now = Instant::now();
        let mut s = Sessions::new(8);
        let (tx, _rx) = mpsc::channel(2);
        s.open("s".into(), 1, 7, tx);
        for _ in 0..3 {
            s.send("s", "x", "{}", now);
        }
        assert!(!s.of_conn(1).unwrap().is_attached(), "cut off when full");
        assert_eq!(s.expire(now + RESUME_GRACE / 2), Vec::<i64>::new());
        assert_eq!(
            s.absent_users(now + RESUME_GRACE / 2, RESUME_GRACE / 4),
            [7],
            "gone longer than the allowance"
        );
        assert!(s.absent_users(now, RESUME_GRACE / 4).is_empty());
        assert!(s.user_present(7));
        assert_eq!(s.expire(now + RESUME_GRACE + Duration::from_secs(1)), [7]);
        assert!(!s.user_present(7));
    }

    #[test]
    fn heartbeats_carry_the_latest_seq_without_numbering() {
        let now = Instant::now();
        let mut s = Sessions::new(8);
        let (tx, mut rx) = mpsc::channel(8);
        s.open("s".into(), 1, 7, tx);
        s.send("s", "x", "{}", now);
        s.heartbeats(now);
        s.send("s", "y", "{}", now);
        let got = frames(&mut rx);
        assert_eq!(got[1]["type"], "heartbeat");
        assert_eq!(got[1]["seq"], 1);
        assert_eq!(got[2]["seq"], 2);
    }
}
