//! `callpop tokens`: API tokens for other systems, from the command line
//! (the same as the admin console's API tokens tab): list them, make one
//! acting as a user within scopes (printed once), revoke one.

use crate::open_store;
use anyhow::{bail, Context, Result};
use callpop::access::tokens::{checked_scopes, mint};
use callpop::config::Config;
use callpop::store::{NewApiToken, Role};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(crate) enum TokensCommand {
    /// Every token (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a token and print it (the only time it is shown).
    Create {
        /// The admin making it (audited).
        #[arg(long = "as")]
        by: String,
        /// What it is for, e.g. "CRM".
        #[arg(long)]
        name: String,
        /// The user it acts as: their role, team and masking apply.
        #[arg(long)]
        user: String,
        /// A scope, repeated: calls:read, customers:read, customers:write,
        /// workorders:write, dial, webhooks:admin, desktop.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// The last day it works (YYYY-MM-DD, local time); never without.
        #[arg(long)]
        expires: Option<chrono::NaiveDate>,
    },
    /// Revoke a token: systems using it are refused at once.
    Revoke {
        id: i64,
        #[arg(long = "as")]
        by: String,
    },
}

/// The admin `name`, or why they may not manage tokens.
fn admin(store: &callpop::store::Store, name: &str) -> Result<callpop::store::User> {
    let user = store
        .users()
        .user_by_name(name)?
        .with_context(|| format!("no user {name:?}"))?;
    if user.role != Role::Admin || user.disabled {
        bail!("{name} is not an active admin: only admins manage API tokens");
    }
    Ok(user)
}

pub(crate) fn run(command: TokensCommand, config: &Config) -> Result<()> {
    let store = open_store(config)?;
    match command {
        TokensCommand::List { json } => {
            let tokens = store.users().tokens()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                for t in tokens {
                    let state = match (t.revoked_at, t.expires_at) {
                        (Some(_), _) => "revoked",
                        (None, Some(e)) if e <= callpop::store::now_ms() => "expired",
                        _ => "live",
                    };
                    println!(
                        "{:>4}  {:<12} {:<8} {:<20} as {:<12} {}",
                        t.id,
                        format!("{}…", t.prefix),
                        state,
                        t.name,
                        t.user,
                        t.scopes.join(",")
                    );
                }
            }
        }
        TokensCommand::Create {
            by,
            name,
            user,
            scopes,
            expires,
        } => {
            let by = admin(&store, &by)?;
            let scopes = checked_scopes(&scopes).map_err(|r| anyhow::anyhow!("{r}"))?;
            let acting = store
                .users()
                .user_by_name(&user)?
                .filter(|u| !u.disabled)
                .with_context(|| format!("no active user {user:?}"))?;
            let expires_at = match expires {
                Some(day) => {
                    let end = day
                        .and_hms_opt(23, 59, 59)
                        .and_then(|t| t.and_local_timezone(chrono::Local).single())
                        .context("that day has no 23:59:59 here")?;
                    Some(end.timestamp_millis())
                }
                None => None,
            };
            let minted = mint();
            let id = store.users().create_token(
                &NewApiToken {
                    name: &name,
                    prefix: &minted.prefix,
                    token_hash: &minted.hash,
                    user_id: acting.id,
                    scopes: &scopes,
                    expires_at,
                },
                &by,
                None,
            )?;
            eprintln!(
                "token {id} \"{name}\" acts as {user} with {}; keep it now, it is not shown again:",
                scopes.join(", ")
            );
            println!("{}", minted.token);
        }
        TokensCommand::Revoke { id, by } => {
            let by = admin(&store, &by)?;
            if store.users().revoke_token(id, &by, None)?.is_none() {
                bail!("no live token {id}");
            }
            println!("token {id} revoked");
        }
    }
    Ok(())
}
