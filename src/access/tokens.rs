//! What an API token may do: the scopes an admin gives it, and which
//! routes each scope opens. A token acts as one user, so the access table
//! ([`super::RULES`]) still decides reach and masking; a route must also be
//! in one of the token's scopes. Routes no scope names (the admin console,
//! the pages' own helpers, websockets) are closed to tokens.

use serde::{Deserialize, Serialize};

/// One scope of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenScope {
    /// The call history, recordings and the call-back queue.
    #[serde(rename = "calls:read")]
    CallsRead,
    /// Customers, their page, fields and groups.
    #[serde(rename = "customers:read")]
    CustomersRead,
    /// Creating and changing customers, notes, call-backs and groups.
    #[serde(rename = "customers:write")]
    CustomersWrite,
    /// Work orders: reading, saving changes, comments; the forms.
    #[serde(rename = "workorders:write")]
    WorkOrdersWrite,
    /// Click-to-dial and hanging up.
    #[serde(rename = "dial")]
    Dial,
    /// Webhook subscriptions and their deliveries.
    #[serde(rename = "webhooks:admin")]
    WebhooksAdmin,
    /// An agent's desktop for another system's page (`callpop.js`):
    /// tickets for the desktop websocket, whose pops and commands (agent
    /// state, claims, dialling, work orders) are the user's as on callpop's
    /// own page.
    #[serde(rename = "desktop")]
    Desktop,
}

impl TokenScope {
    /// Every scope, in the order the console lists them.
    pub const ALL: [TokenScope; 7] = [
        TokenScope::CallsRead,
        TokenScope::CustomersRead,
        TokenScope::CustomersWrite,
        TokenScope::WorkOrdersWrite,
        TokenScope::Dial,
        TokenScope::WebhooksAdmin,
        TokenScope::Desktop,
    ];

    /// The scope's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::CallsRead => "calls:read",
            TokenScope::CustomersRead => "customers:read",
            TokenScope::CustomersWrite => "customers:write",
            TokenScope::WorkOrdersWrite => "workorders:write",
            TokenScope::Dial => "dial",
            TokenScope::WebhooksAdmin => "webhooks:admin",
            TokenScope::Desktop => "desktop",
        }
    }

    /// The scope a name stands for.
    pub fn parse(name: &str) -> Option<TokenScope> {
        TokenScope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

use TokenScope::*;

/// The routes each scope opens, as the access table names them.
pub const TOKEN_ROUTES: &[(&str, TokenScope)] = &[
    ("GET /api/history", CallsRead),
    ("GET /api/history/export", CallsRead),
    ("GET /api/recordings", CallsRead),
    ("GET /api/recordings/{id}", CallsRead),
    ("GET /api/recordings/{id}/audio", CallsRead),
    ("GET /api/followups", CallsRead),
    ("GET /api/customers", CustomersRead),
    ("GET /api/customers/{id}", CustomersRead),
    ("GET /api/customers/{id}/merges", CustomersRead),
    ("GET /api/customers/birthdays", CustomersRead),
    ("GET /api/customers/export", CustomersRead),
    ("GET /api/customer-fields", CustomersRead),
    ("GET /api/customer-groups", CustomersRead),
    ("POST /api/customers", CustomersWrite),
    ("PUT /api/customers/{id}", CustomersWrite),
    ("DELETE /api/customers/{id}", CustomersWrite),
    ("POST /api/customers/{id}/notes", CustomersWrite),
    ("POST /api/customers/{id}/follow-ups", CustomersWrite),
    ("POST /api/customers/{id}/merge", CustomersWrite),
    ("POST /api/customers/hand-over", CustomersWrite),
    ("POST /api/customer-groups/{tag}/members", CustomersWrite),
    ("POST /api/customer-groups/{tag}/remove", CustomersWrite),
    ("GET /api/forms", WorkOrdersWrite),
    ("GET /api/forms/{key}", WorkOrdersWrite),
    ("GET /api/workorders", WorkOrdersWrite),
    ("GET /api/workorders/summary", WorkOrdersWrite),
    ("GET /api/workorders/export", WorkOrdersWrite),
    ("GET /api/workorders/assignees", WorkOrdersWrite),
    ("GET /api/workorders/{id}", WorkOrdersWrite),
    ("POST /api/workorders/{id}/status", WorkOrdersWrite),
    ("POST /api/workorders/{id}/assign", WorkOrdersWrite),
    ("PUT /api/workorders/{id}/due", WorkOrdersWrite),
    ("POST /api/workorders/{id}/comments", WorkOrdersWrite),
    ("POST /api/calls/dial", Dial),
    ("POST /api/calls/{call_uid}/hangup", Dial),
    ("GET /api/webhooks", WebhooksAdmin),
    ("POST /api/webhooks", WebhooksAdmin),
    ("PUT /api/webhooks/{id}", WebhooksAdmin),
    ("DELETE /api/webhooks/{id}", WebhooksAdmin),
    ("POST /api/webhooks/{id}/rotate", WebhooksAdmin),
    ("GET /api/webhooks/{id}/deliveries", WebhooksAdmin),
    (
        "POST /api/webhooks/{id}/deliveries/{event}/redeliver",
        WebhooksAdmin,
    ),
    ("POST /api/desktop/tickets", Desktop),
    ("GET /ws", Desktop),
];

/// A new token: shown once to whoever made it; the store keeps its hash
/// and its first characters.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub prefix: String,
    pub hash: String,
}

/// Characters of a token kept to tell it apart (`cp_` and 7 more).
const PREFIX_CHARS: usize = 10;

/// Makes a token: `cp_` and 256 random bits.
pub fn mint() -> Minted {
    let token = format!("cp_{}", crate::auth::new_token());
    Minted {
        prefix: token.chars().take(PREFIX_CHARS).collect(),
        hash: crate::auth::token_hash(&token),
        token,
    }
}

/// The scopes named, each known and once, or why not
/// (`token_scopes_missing`, `token_scope_unknown`).
pub fn checked_scopes(names: &[String]) -> Result<Vec<String>, crate::domain::Refusal> {
    use crate::domain::Refusal;
    if names.is_empty() {
        return Err(Refusal::new(
            "token_scopes_missing",
            serde_json::json!({}),
            "give the token at least one scope",
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for name in names {
        let scope = TokenScope::parse(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = TokenScope::ALL.iter().map(|s| s.as_str()).collect();
            Refusal::new(
                "token_scope_unknown",
                serde_json::json!({ "scope": name }),
                format!("no scope {name:?}; there are {}", known.join(", ")),
            )
        })?;
        if !scopes.iter().any(|k| k == scope.as_str()) {
            scopes.push(scope.as_str().to_string());
        }
    }
    Ok(scopes)
}

/// The scope that opens `action` to tokens, if any.
pub fn scope_of(action: &str) -> Option<TokenScope> {
    TOKEN_ROUTES
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, s)| *s)
}

/// Whether a token with `scopes` may use `action` (the access table then
/// decides as for the token's user).
pub fn token_may(action: &str, scopes: &[String]) -> bool {
    scope_of(action).is_some_and(|needed| scopes.iter().any(|s| s == needed.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_route_is_a_route_of_the_access_table() {
        for (action, _) in TOKEN_ROUTES {
            assert!(super::super::rule_for(action).is_some(), "{action}");
        }
    }

    #[test]
    fn a_scope_opens_its_routes_only() {
        let read = vec!["customers:read".to_string()];
        assert!(token_may("GET /api/customers", &read));
        assert!(!token_may("PUT /api/customers/{id}", &read));
        assert!(
            !token_may("GET /api/users", &read),
            "the console is closed to tokens"
        );
        assert!(!token_may("GET /ws", &read));
        let desk = vec!["desktop".to_string()];
        assert!(token_may("GET /ws", &desk) && token_may("POST /api/desktop/tickets", &desk));
        assert!(!token_may("GET /ws/wallboard", &desk));
        for s in TokenScope::ALL {
            assert_eq!(TokenScope::parse(s.as_str()), Some(s));
        }
        assert_eq!(TokenScope::parse("root"), None);
        let named =
            |v: &[&str]| checked_scopes(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            named(&["dial", "dial", " calls:read"]).unwrap(),
            ["dial", "calls:read"]
        );
        assert_eq!(named(&[]).unwrap_err().code, "token_scopes_missing");
        assert_eq!(named(&["root"]).unwrap_err().code, "token_scope_unknown");
        let m = mint();
        assert!(m.token.starts_with(&m.prefix) && m.prefix.len() == 10);
        assert_eq!(m.hash, crate::auth::token_hash(&m.token));
    }
}
