//! `callpop users`, `callpop forms` and `callpop lines`: the admin commands
//! that work on the store directly (the daemon may be running: SQLite in
//! WAL mode lets both write; a running daemon picks up new bindings at its
//! next start, or at once through the admin API).

use crate::open_store;
use anyhow::{bail, Context, Result};
use callpop::config::Config;
use callpop::store::{AuditEntry, Binding, FormDef, Role};
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(crate) enum UsersCommand {
    /// Add a user; the password is asked for (or read from stdin with --password-stdin).
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Shown on desktops and reports (default: the name).
        #[arg(long)]
        display_name: Option<String>,
        /// The team: group lines pop to its ready agents; its lead sees them.
        #[arg(long)]
        team: Option<String>,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a user a permission beyond their role: `calls.export`
    /// (export the call history; admins have it by role).
    Grant { name: String, permission: String },
    /// Take a permission back.
    Revoke { name: String, permission: String },
    /// Every user.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum FormsCommand {
    /// Every work-order form.
    List,
    /// A form as TOML, for editing and `forms import`.
    Export {
        key: String,
        /// Output file (default: stdout).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Create or replace a form from TOML; errors name the line.
    Import { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub(crate) enum LinesCommand {
    /// Every line binding.
    Bindings,
    /// Bind a line (e.g. box1/2) to an agent or a team.
    Bind {
        line: String,
        #[arg(long, conflicts_with = "team", required_unless_present = "team")]
        agent: Option<String>,
        #[arg(long)]
        team: Option<String>,
    },
    /// Remove a line's binding.
    Unbind { line: String },
}

fn read_password(from_stdin: bool, username: &str) -> Result<String> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    };
    callpop::auth::check_password(&password, username)?;
    Ok(password)
}

fn audit(store: &callpop::store::Store, action: &str, target: &str) -> Result<()> {
    store.users().audit(&AuditEntry {
        actor: "cli",
        user_id: None,
        action,
        target: Some(target),
        detail: serde_json::json!({}),
        remote_addr: None,
    })?;
    Ok(())
}

fn set_permission(
    store: &callpop::store::Store,
    name: &str,
    permission: &str,
    grant: bool,
) -> Result<()> {
    if !store
        .users()
        .set_permission(name, permission, grant, "cli")?
    {
        bail!("no user {name:?}");
    }
    let action = if grant { "user.grant" } else { "user.revoke" };
    audit(store, action, &format!("{name}:{permission}"))?;
    println!(
        "{name}: {permission} {}",
        if grant { "granted" } else { "revoked" }
    );
    Ok(())
}

pub(crate) fn run_users(command: UsersCommand, config: &Config) -> Result<()> {
    let store = open_store(config)?;

    match command {
        UsersCommand::Add {
            name,
            role,
            display_name,
            team,
            password_stdin,
        } => {
            let password = read_password(password_stdin, &name)?;
            let hash = callpop::auth::hash_password(&password)?;
            let display = display_name.unwrap_or_else(|| name.clone());
            store
                .users()
                .add_user(&name, &display, role, team.as_deref(), Some(&hash))?;
            audit(&store, "user.add", &name)?;
            println!("added {name} ({})", role.as_str());
        }
        UsersCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin, &name)?;
            let ended = store.users().set_password_hash(
                &name,
                &callpop::auth::hash_password(&password)?,
                None,
            )?;
            audit(&store, "user.password", &name)?;
            println!("password of {name} changed; {ended} login session(s) ended");
        }
        UsersCommand::Grant { name, permission } => {
            set_permission(&store, &name, &permission, true)?
        }
        UsersCommand::Revoke { name, permission } => {
            set_permission(&store, &name, &permission, false)?
        }
        UsersCommand::List { json } => {
            let users = store.users().all()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    println!(
                        "{:<16} {:<10} {:<12} {}{}",
                        u.username,
                        u.role.as_str(),
                        u.team.as_deref().unwrap_or("-"),
                        u.display_name,
                        if u.disabled { " (disabled)" } else { "" }
                    );
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn run_forms(command: FormsCommand, config: &Config) -> Result<()> {
    let store = open_store(config)?;
    match command {
        FormsCommand::List => {
            for f in store.workorders().forms()? {
                println!(
                    "{:<16} {} / {} ({} fields)",
                    f.key,
                    f.name_zh,
                    f.name_en,
                    f.fields.len()
                );
            }
        }
        FormsCommand::Export { key, output } => {
            let form = store
                .workorders()
                .form(&key)?
                .with_context(|| format!("no form {key:?}; `callpop forms list` shows them"))?;
            let text = toml::to_string_pretty(&form)?;
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        FormsCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let form: FormDef = toml::from_str(&text).map_err(|e| {
                let line = e
                    .span()
                    .map(|s| text[..s.start].lines().count().max(1))
                    .map(|l| format!(", line {l}"))
                    .unwrap_or_default();
                anyhow::anyhow!("{}{line}: {}", file.display(), e.message())
            })?;
            store.workorders().put_form(&form)?;
            audit(&store, "form.put", &form.key)?;
            println!("form {} saved ({} fields)", form.key, form.fields.len());
        }
    }
    Ok(())
}

pub(crate) fn run_lines(command: LinesCommand, config: &Config) -> Result<()> {
    let store = open_store(config)?;
    match command {
        LinesCommand::Bindings => {
            for (line, b) in store.agents().line_bindings()? {
                match b {
                    Binding::Agent(a) => println!("{line:<16} agent {a}"),
                    Binding::Team(t) => println!("{line:<16} team  {t}"),
                }
            }
        }
        LinesCommand::Bind { line, agent, team } => {
            let binding = match (agent, team) {
                (Some(a), _) => Binding::Agent(a),
                (None, Some(t)) => Binding::Team(t),
                (None, None) => bail!("give --agent or --team"),
            };
            store.agents().bind_line(&line, &binding)?;
            audit(&store, "line.bind", &line)?;
            println!("{line} bound");
        }
        LinesCommand::Unbind { line } => {
            if !store.agents().unbind_line(&line)? {
                bail!("line {line:?} is not bound");
            }
            audit(&store, "line.unbind", &line)?;
            println!("{line} unbound");
        }
    }
    Ok(())
}
