//! Who may do what, in one table: every REST route and desktop command of
//! the server, the roles that may use it and how far each reaches (its own
//! objects, its team's, all). The web router refuses a role the table does
//! not name before any handler runs and hands the handler the [`Scope`] the
//! table grants; the desktop socket does the same for each command; the
//! access-matrix test walks this same table, so a route or command without
//! an entry fails it.
//!
//! Decisions written down here rather than scattered over handlers:
//! - Team leads read the center-wide call and line statistics (aggregate
//!   counts without callers' numbers: they staff the lines their team
//!   serves); their agent tables, history, recordings, work orders and
//!   wallboard are their team's.
//! - QA reads every call, recording and work order, never takes calls and
//!   never opens the desktop socket.
//! - Marketers reach SMS only, and only their own campaigns.
//! - `/metrics` is public like any Prometheus endpoint: counts only, no
//!   names or numbers.

pub mod tokens;

use crate::store::{Role, Scope, User};

/// How far a role reaches with one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The user's own objects: calls offered to them, customers they own,
    /// campaigns they created.
    Own,
    /// Their team's (their own if they have no team).
    Team,
    /// Everything.
    All,
}

/// Who may use one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not: login, health, the pages' static files.
    Public,
    /// The roles named, each with its reach; every other role is refused.
    Roles(&'static [(Role, Reach)]),
}

/// One row of the table: an action (`"GET /api/history"` with the route's
/// path as the router spells it, or `"ws workorder.save"`) and who may use it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub action: &'static str,
    pub access: Access,
}

use Reach::{All, Own, Team};
use Role::{Admin, Agent, Marketer, Qa, TeamLead};

/// Everyone logged in, each on their own things; admins on anyone's.
const SELF_SERVICE: &[(Role, Reach)] = &[
    (Agent, Own),
    (TeamLead, Own),
    (Qa, Own),
    (Marketer, Own),
    (Admin, All),
];
/// Those who take calls: agents, team leads (their team's), admins.
const CALL_TAKERS: &[(Role, Reach)] = &[(Agent, Own), (TeamLead, Team), (Admin, All)];
/// Those who take calls, each on what was offered to them.
const ON_OWN_CALLS: &[(Role, Reach)] = &[(Agent, Own), (TeamLead, Own), (Admin, Own)];
/// Readers of calls, recordings and work orders: the one scope rule.
const CALL_READERS: &[(Role, Reach)] = &[(Agent, Own), (TeamLead, Team), (Qa, All), (Admin, All)];
/// Supervisors: team leads (their team), QA and admins.
const SUPERVISORS: &[(Role, Reach)] = &[(TeamLead, Team), (Qa, All), (Admin, All)];
/// Where every line pops: no caller's data, read by every supervisor whole.
const LINE_READERS: &[(Role, Reach)] = &[(TeamLead, All), (Qa, All), (Admin, All)];
/// Center-wide statistics (see the module's decisions).
const STATISTICS: &[(Role, Reach)] = &[(TeamLead, All), (Qa, All), (Admin, All)];
/// Scoring recordings (质检).
const CHECKERS: &[(Role, Reach)] = &[(TeamLead, Team), (Qa, All), (Admin, All)];
/// SMS senders: marketers on their own campaigns, admins on all.
const SENDERS: &[(Role, Reach)] = &[(Marketer, Own), (Admin, All)];
/// Who deletes customers and hands them over: team leads (their team's)
/// and admins.
const KEEPERS: &[(Role, Reach)] = &[(TeamLead, Team), (Admin, All)];
const ADMINS: &[(Role, Reach)] = &[(Admin, All)];
/// Who edits the scoring forms: QA and admins.
const QA_EDITORS: &[(Role, Reach)] = &[(Qa, All), (Admin, All)];

const fn rule(action: &'static str, access: Access) -> Rule {
    Rule { action, access }
}

const fn roles(action: &'static str, grants: &'static [(Role, Reach)]) -> Rule {
    Rule {
        action,
        access: Access::Roles(grants),
    }
}

/// The table. Routes are `METHOD path` exactly as the router declares them;
/// desktop commands are `ws <command>`.
pub const RULES: &[Rule] = &[
    // Pages and their static files, login and health: public.
    rule("GET /", Access::Public),
    rule("GET /login", Access::Public),
    // The app's pages answer 403 to a role that may not open them (see PAGES).
    rule("GET /workspace", Access::Public),
    rule("GET /assets/{file}", Access::Public),
    rule("GET /callpop.js", Access::Public),
    rule("GET /admin", Access::Public),
    rule("GET /wallboard", Access::Public),
    rule("GET /recordings", Access::Public),
    rule("GET /sms", Access::Public),
    rule("GET /history", Access::Public),
    rule("GET /customers", Access::Public),
    rule("GET /workorders", Access::Public),
    rule("GET /workorders/{id}/print", Access::Public),
    rule("GET /reports", Access::Public),
    rule("GET /healthz", Access::Public),
    rule("GET /metrics", Access::Public),
    rule("POST /api/login", Access::Public),
    // The API's contract: what any integrator reads before a token.
    rule("GET /api/openapi.json", Access::Public),
    rule("POST /api/logout", Access::Public),
    // Oneself.
    roles("GET /api/me", SELF_SERVICE),
    roles("PUT /api/users/{name}/password", SELF_SERVICE),
    roles("GET /api/logins/locked", ADMINS),
    // The admin console.
    roles("GET /api/users", ADMINS),
    roles("POST /api/users", ADMINS),
    roles("PUT /api/users/{name}", ADMINS),
    roles("GET /api/audit", ADMINS),
    roles("GET /api/devices", ADMINS),
    roles("POST /api/devices/{name}/restart", ADMINS),
    roles("GET /api/profiles", ADMINS),
    roles("GET /api/profiles/{name}", ADMINS),
    roles("POST /api/profiles/check", ADMINS),
    roles("DELETE /api/logins/locked/{name}", ADMINS),
    // API tokens (Open CTI): admins make and revoke them.
    roles("GET /api/tokens", ADMINS),
    roles("POST /api/tokens", ADMINS),
    roles("DELETE /api/tokens/{id}", ADMINS),
    // Webhook endpoints and their deliveries: admins (and tokens with
    // the webhooks:admin scope, acting as an admin).
    // The center's own CRMs and how their lookups go.
    roles("GET /api/crm", ADMINS),
    roles("GET /api/webhooks", ADMINS),
    roles("POST /api/webhooks", ADMINS),
    roles("PUT /api/webhooks/{id}", ADMINS),
    roles("DELETE /api/webhooks/{id}", ADMINS),
    roles("POST /api/webhooks/{id}/rotate", ADMINS),
    roles("GET /api/webhooks/{id}/deliveries", ADMINS),
    roles(
        "POST /api/webhooks/{id}/deliveries/{event}/redeliver",
        ADMINS,
    ),
    // The desktop and its commands.
    roles("GET /ws", CALL_TAKERS),
    // A ticket for the desktop of another system's page (an admin's may
    // name any call taker; everyone else gets their own).
    roles("POST /api/desktop/tickets", CALL_TAKERS),
    roles("ws agent.state", ON_OWN_CALLS),
    roles("ws call.claim", ON_OWN_CALLS),
    roles("ws call.dial", ON_OWN_CALLS),
    roles("ws call.hangup", ON_OWN_CALLS),
    roles("ws customer.select", ON_OWN_CALLS),
    roles("ws workorder.save", CALL_TAKERS),
    roles("GET /api/forms", CALL_READERS),
    roles("GET /api/forms/{key}", CALL_READERS),
    roles("PUT /api/forms/{key}", ADMINS),
    roles("POST /api/customers", CALL_TAKERS),
    roles("GET /api/customers", CALL_READERS),
    roles("GET /api/customers/birthdays", CALL_READERS),
    // Exports within reach; imports merge into customers anywhere.
    roles("GET /api/customers/export", KEEPERS),
    roles("POST /api/customers/import", ADMINS),
    roles("GET /api/customers/imports/{id}", ADMINS),
    roles("DELETE /api/customers/imports/{id}", ADMINS),
    roles("POST /api/customers/imports/{id}/commit", ADMINS),
    roles("GET /api/customer-fields", SELF_SERVICE),
    roles("PUT /api/customer-fields", ADMINS),
    roles("GET /api/customer-groups", CALL_READERS),
    roles("POST /api/customer-groups/{tag}/members", CALL_TAKERS),
    roles("POST /api/customer-groups/{tag}/remove", CALL_TAKERS),
    roles("GET /api/customers/{id}", CALL_READERS),
    roles("PUT /api/customers/{id}", CALL_TAKERS),
    roles("POST /api/customers/{id}/notes", CALL_TAKERS),
    roles("POST /api/customers/{id}/follow-ups", CALL_TAKERS),
    roles("DELETE /api/customers/{id}", KEEPERS),
    roles("POST /api/customers/hand-over", KEEPERS),
    roles("POST /api/customers/{id}/restore", ADMINS),
    roles("POST /api/customers/{id}/merge", KEEPERS),
    roles("GET /api/customers/{id}/merges", CALL_READERS),
    roles("POST /api/customers/merges/{id}/undo", KEEPERS),
    roles("POST /api/calls/dial", CALL_TAKERS),
    roles("GET /api/followups", CALL_TAKERS),
    roles("GET /api/followups/summary", SUPERVISORS),
    roles("POST /api/followups/{id}/claim", CALL_TAKERS),
    roles("POST /api/followups/{id}/close", CALL_TAKERS),
    roles("POST /api/calls/{call_uid}/hangup", CALL_TAKERS),
    roles("GET /api/workorders", CALL_READERS),
    roles("GET /api/workorders/summary", CALL_READERS),
    roles("GET /api/workorders/export", CALL_READERS),
    roles("GET /api/workorders/assignees", CALL_TAKERS),
    roles("POST /api/workorders/import", KEEPERS),
    roles("GET /api/workorders/{id}", CALL_READERS),
    roles("POST /api/workorders/{id}/status", CALL_TAKERS),
    roles("POST /api/workorders/{id}/assign", CALL_TAKERS),
    roles("PUT /api/workorders/{id}/due", CALL_TAKERS),
    roles("POST /api/workorders/{id}/comments", CALL_TAKERS),
    roles("POST /api/workorders/{id}/scores", CHECKERS),
    roles(
        "POST /api/workorders/{id}/scores/{score}/appeal",
        CALL_TAKERS,
    ),
    roles("GET /api/qa-forms", CHECKERS),
    roles("PUT /api/qa-forms/{name}", QA_EDITORS),
    // Lines and agents.
    roles("GET /api/bindings", LINE_READERS),
    roles("PUT /api/bindings", ADMINS),
    roles("DELETE /api/bindings", ADMINS),
    roles("GET /api/agents", SUPERVISORS),
    roles("GET /ws/wallboard", SUPERVISORS),
    // History, recordings, statistics.
    roles("GET /api/history", CALL_READERS),
    roles("GET /api/history/export", CALL_READERS),
    roles("GET /api/recordings", CALL_READERS),
    roles("GET /api/recordings/{id}", CALL_READERS),
    roles("GET /api/recordings/{id}/audio", CALL_READERS),
    roles("POST /api/recordings/{id}/scores", CHECKERS),
    roles(
        "POST /api/recordings/{id}/scores/{score}/appeal",
        ON_OWN_CALLS,
    ),
    roles("PUT /api/recordings/{id}/hold", CHECKERS),
    roles("GET /api/reports/{group}", STATISTICS),
    // SMS.
    roles("GET /api/sms/groups", SENDERS),
    roles("GET /api/sms/campaigns", SENDERS),
    roles("POST /api/sms/campaigns", SENDERS),
    roles("POST /api/sms/uploads", SENDERS),
    roles("GET /api/sms/campaigns/{id}", SENDERS),
    roles("DELETE /api/sms/campaigns/{id}", SENDERS),
    roles("GET /api/sms/campaigns/{id}/preview", SENDERS),
    roles("GET /api/sms/campaigns/{id}/export", SENDERS),
    roles("GET /api/sms/campaigns/{id}/failures", SENDERS),
    roles("POST /api/sms/campaigns/{id}/{action}", SENDERS),
    roles("PUT /api/sms/quotas/{name}", ADMINS),
    roles("GET /api/sms/quotas", ADMINS),
    roles("GET /api/recordings/retention", ADMINS),
    roles("GET /api/dial-pools", ADMINS),
    roles("PUT /api/dial-pools", ADMINS),
    roles("GET /api/call-blacklist", ADMINS),
    roles("POST /api/call-blacklist", ADMINS),
    roles("DELETE /api/call-blacklist/{id}", ADMINS),
    roles("GET /api/sms/blacklist", ADMINS),
    roles("POST /api/sms/blacklist", ADMINS),
    roles("DELETE /api/sms/blacklist/{e164}", ADMINS),
    roles("GET /api/sms/unknown", ADMINS),
    roles("POST /api/sms/parts/{id}/settle", ADMINS),
    roles("GET /ws/sms", SENDERS),
];

/// A page of the web app: where it lives, the roles whose navigation shows
/// it, and the action whose data it shows (every role named may use it).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub key: &'static str,
    pub path: &'static str,
    pub roles: &'static [Role],
    pub needs: &'static str,
}

/// The app's pages, in the navigation's order: agents take calls and see
/// their own history; team leads also watch the wallboard, reports and
/// recordings; QA reads recordings and history; marketers send SMS;
/// admins open everything.
pub const PAGES: &[Page] = &[
    Page {
        key: "workspace",
        path: "/workspace",
        roles: &[Agent, TeamLead, Admin],
        needs: "GET /ws",
    },
    Page {
        key: "customers",
        path: "/customers",
        roles: &[Agent, TeamLead, Qa, Admin],
        needs: "GET /api/customers",
    },
    Page {
        key: "workorders",
        path: "/workorders",
        roles: &[Agent, TeamLead, Qa, Admin],
        needs: "GET /api/workorders",
    },
    Page {
        key: "history",
        path: "/history",
        roles: &[Agent, TeamLead, Qa, Admin],
        needs: "GET /api/history",
    },
    Page {
        key: "recordings",
        path: "/recordings",
        roles: &[TeamLead, Qa, Admin],
        needs: "GET /api/recordings",
    },
    Page {
        key: "reports",
        path: "/reports",
        roles: &[TeamLead, Admin],
        needs: "GET /api/reports/{group}",
    },
    Page {
        key: "wallboard",
        path: "/wallboard",
        roles: &[TeamLead, Admin],
        needs: "GET /ws/wallboard",
    },
    Page {
        key: "sms",
        path: "/sms",
        roles: &[Marketer, Admin],
        needs: "GET /api/sms/campaigns",
    },
    Page {
        key: "admin",
        path: "/admin",
        roles: &[Admin],
        needs: "GET /api/users",
    },
];

/// The keys of the pages `role` may open, in the navigation's order.
pub fn pages_for(role: Role) -> Vec<&'static str> {
    PAGES
        .iter()
        .filter(|p| p.roles.contains(&role))
        .map(|p| p.key)
        .collect()
}

/// The page at `path`, if it is one of the app's.
pub fn page_at(path: &str) -> Option<&'static Page> {
    // A page's sub-pages (`/workorders/7/print`) are the page's.
    PAGES.iter().find(|p| {
        path.strip_prefix(p.path)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The table's entry for `action`, if it has one.
pub fn rule_for(action: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.action == action)
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The table names the action, not this user's role.
    Role,
    /// The table does not know the action: refused, never guessed.
    NoRule,
}

/// What `user` may reach with `action`: its scope, or why not. A public
/// action grants everything it serves (it serves nothing private).
pub fn grant(action: &str, user: &User) -> Result<Scope, Denied> {
    match rule_for(action).ok_or(Denied::NoRule)?.access {
        Access::Public => Ok(Scope::All),
        Access::Roles(grants) => grants
            .iter()
            .find(|(role, _)| *role == user.role)
            .map(|(_, reach)| scope_of(user, *reach))
            .ok_or(Denied::Role),
    }
}

/// The scope a reach gives `user`: a team lead without a team reaches only
/// their own objects.
pub fn scope_of(user: &User, reach: Reach) -> Scope {
    match (reach, &user.team) {
        (All, _) => Scope::All,
        (Team, Some(team)) => Scope::Team(team.clone()),
        (Team, None) | (Own, _) => Scope::Agent(user.id),
    }
}

/// Whether an object belonging to `owner` (a user id and that user's team)
/// lies within `scope`; an object of nobody lies only within `All`.
pub fn covers(scope: &Scope, owner: Option<(i64, Option<&str>)>) -> bool {
    match (scope, owner) {
        (Scope::All, _) => true,
        (Scope::Team(t), Some((_, team))) => team == Some(t.as_str()),
        (Scope::Agent(me), Some((id, _))) => *me == id,
        _ => false,
    }
}

/// Whether `viewer` sees a caller's number masked: the one rule for pops,
/// the history, recordings, exports and the wallboard. Quality checkers
/// and marketers always (they listen or send, they do not call back);
/// agents when the customer belongs to another user (`owned_by_another`;
/// pass `true` where the owner is not known); team leads and admins never.
pub fn must_mask(viewer: &User, owned_by_another: bool) -> bool {
    match viewer.role {
        Role::Qa | Role::Marketer => true,
        Role::Agent => owned_by_another,
        Role::TeamLead | Role::Admin => false,
    }
}

/// Whether a customer with owner `owner` belongs to a user other than
/// `viewer` (an unowned customer belongs to nobody else): what
/// [`must_mask`] asks of agents.
pub fn owned_by_another(viewer: &User, owner: Option<i64>) -> bool {
    owner.is_some_and(|o| o != viewer.id)
}

/// `13812345678` -> `138****5678`: enough to recognise, not to dial.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0..=4 => return "*".repeat(n),
        5..=7 => (1, 2),
        _ => (3, 4),
    };
    let mut out: String = chars[..head].iter().collect();
    out.push_str("****");
    out.extend(&chars[n - tail..]);
    out
}

/// Whether a call of `users` (who took it or were offered it, with their
/// teams) on a line of `team` lies within `scope`.
pub fn covers_call(scope: &Scope, users: &[(i64, Option<String>)], team: Option<&str>) -> bool {
    match scope {
        Scope::All => true,
        Scope::Agent(me) => users.iter().any(|(id, _)| id == me),
        Scope::Team(t) => {
            team == Some(t.as_str()) || users.iter().any(|(_, ut)| ut.as_deref() == Some(t))
        }
        Scope::None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, team: Option<&str>) -> User {
        User {
            id: 7,
            username: "u".into(),
            display_name: "u".into(),
            role,
            team: team.map(str::to_string),
            disabled: false,
        }
    }

    #[test]
    fn every_page_shows_only_data_its_roles_may_read() {
        for page in PAGES {
            for role in page.roles {
                assert!(
                    grant(page.needs, &user(*role, Some("sales"))).is_ok(),
                    "{:?} sees the page {} but may not use {}",
                    role,
                    page.key,
                    page.needs
                );
            }
        }
        assert_eq!(
            pages_for(Role::Agent),
            ["workspace", "customers", "workorders", "history"]
        );
        assert_eq!(
            pages_for(Role::Qa),
            ["customers", "workorders", "history", "recordings"]
        );
        assert_eq!(pages_for(Role::Marketer), ["sms"]);
        assert_eq!(pages_for(Role::Admin).len(), PAGES.len());
    }

    #[test]
    fn each_action_appears_once_and_names_each_role_at_most_once() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                RULES[i + 1..].iter().all(|o| o.action != r.action),
                "{} twice",
                r.action
            );
            if let Access::Roles(grants) = r.access {
                assert!(!grants.is_empty(), "{} names nobody", r.action);
                for (j, (role, _)) in grants.iter().enumerate() {
                    assert!(
                        grants[j + 1..].iter().all(|(o, _)| o != role),
                        "{} names {role:?} twice",
                        r.action
                    );
                }
            }
        }
    }

    #[test]
    fn grants_follow_role_and_reach() {
        let lead = user(TeamLead, Some("sales"));
        assert_eq!(
            grant("GET /api/history", &lead),
            Ok(Scope::Team("sales".into()))
        );
        assert_eq!(
            grant("GET /api/history", &user(TeamLead, None)),
            Ok(Scope::Agent(7))
        );
        assert_eq!(
            grant("GET /api/history", &user(Agent, Some("sales"))),
            Ok(Scope::Agent(7))
        );
        assert_eq!(
            grant("GET /api/history", &user(Marketer, None)),
            Err(Denied::Role)
        );
        assert_eq!(
            grant("ws workorder.save", &user(Qa, None)),
            Err(Denied::Role)
        );
        assert_eq!(grant("GET /ws", &user(Marketer, None)), Err(Denied::Role));
        assert_eq!(grant("GET /nowhere", &lead), Err(Denied::NoRule));
        assert_eq!(grant("POST /api/login", &lead), Ok(Scope::All));
    }

    #[test]
    fn covers_calls_of_their_people_and_line() {
        let users = [(3, Some("sales".to_string())), (4, None)];
        assert!(covers_call(&Scope::Agent(4), &users, None));
        assert!(!covers_call(&Scope::Agent(5), &users, Some("sales")));
        assert!(covers_call(&Scope::Team("sales".into()), &users, None));
        assert!(covers_call(&Scope::Team("vip".into()), &[], Some("vip")));
        assert!(!covers_call(&Scope::Team("vip".into()), &users, None));
        assert!(covers_call(&Scope::All, &[], None));
        assert!(!covers_call(&Scope::None, &users, Some("sales")));
    }

    #[test]
    fn covers_owned_objects_by_scope() {
        let sales = Some((3, Some("sales")));
        assert!(covers(&Scope::All, None));
        assert!(covers(&Scope::Team("sales".into()), sales));
        assert!(!covers(&Scope::Team("support".into()), sales));
        assert!(!covers(&Scope::Team("sales".into()), None));
        assert!(covers(&Scope::Agent(3), sales));
        assert!(!covers(&Scope::Agent(4), sales));
        assert!(!covers(&Scope::Agent(4), None));
        assert!(!covers(&Scope::None, sales));
    }
}
