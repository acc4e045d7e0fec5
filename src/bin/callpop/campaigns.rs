//! `callpop sms blast` and `callpop sms campaigns`: SMS campaigns from the
//! command line, on the same store the daemon sends from. The daemon's
//! campaign runner does the sending; these commands create, start, follow
//! and control campaigns, always on behalf of a named user, so roles and
//! quotas apply as on the web.

use crate::{normalizer, open_store};
use anyhow::{bail, Context, Result};
use callpop::config::Config;
use callpop::sheets::ExportFormat;
use callpop::sms::campaign::{export_results, Draft, Source};
use callpop::sms::rules::Window;
use callpop::sms::{Campaigns, Outbox};
use callpop::store::{CampaignState, StoreHandle, User};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `callpop sms blast`.
#[derive(Args, Debug)]
pub(crate) struct BlastArgs {
    /// The user the campaign is sent as (a marketer or an admin): their
    /// quota is charged.
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// Customers tagged with this group.
    #[arg(long, conflicts_with_all = ["file", "all"])]
    group: Option<String>,
    /// Recipients from a CSV or XLSX sheet: one phone column (手机/mobile),
    /// the other columns are merge fields.
    #[arg(long, conflicts_with = "all")]
    file: Option<PathBuf>,
    /// Every customer.
    #[arg(long)]
    all: bool,
    /// Only customers (of the group, or all) whose field passes:
    /// 城市=杭州, company~贸易 (contains), 客户等级!=VIP.
    #[arg(long, conflicts_with = "file")]
    filter: Option<String>,
    /// The message template, a text file with {name}, {company} or any
    /// custom field; `-` reads standard input.
    #[arg(long)]
    template: PathBuf,
    /// The campaign's name (default: the template file's name and the date).
    #[arg(long)]
    name: Option<String>,
    /// Opt-out text appended (default: sms.opt_out_suffix, e.g. 回T退订).
    #[arg(long)]
    suffix: Option<String>,
    /// Sending window, local time, e.g. 09:00-20:00 (default: sms.window).
    #[arg(long)]
    window: Option<String>,
    /// Start no earlier than this local time: "2026-12-01 09:30".
    #[arg(long)]
    start_at: Option<String>,
    /// Show recipients, texts, parts and cost without creating anything.
    #[arg(long)]
    dry_run: bool,
    /// How many recipients the preview shows.
    #[arg(long, default_value_t = 5)]
    preview: u32,
    /// Start it and return instead of following its progress.
    #[arg(long)]
    no_wait: bool,
    /// Print the result as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// `callpop sms campaigns ...`.
#[derive(Subcommand, Debug)]
pub(crate) enum CampaignsCommand {
    /// Every campaign, newest first.
    List {
        /// Print them as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// One campaign's progress: recipients, skips, parts by state.
    Show {
        id: i64,
        /// Print it as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stops sending a campaign until it is resumed.
    Pause {
        id: i64,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Resumes a paused campaign (its window still applies).
    Resume {
        id: i64,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Cancels a campaign: nothing more of it is sent.
    Cancel {
        id: i64,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Writes every recipient's outcome to a CSV or XLSX file.
    Export {
        id: i64,
        /// The file; its extension (.csv or .xlsx) picks the format.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Sets a user's monthly quota of parts (admins set quotas).
    Quota { user: String, parts: i64 },
    /// Adds a number to the blacklist: nothing is ever sent to it.
    Blacklist {
        number: String,
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn service(config: &Config, runtime: &tokio::runtime::Runtime) -> Result<Campaigns> {
    let store = open_store(config)?;
    let _guard = runtime.enter();
    let numbers = Arc::new(normalizer(config));
    let outbox =
        Outbox::new(StoreHandle::spawn(store), config.sms.clone()).with_normalizer(numbers.clone());
    Ok(Campaigns::new(outbox, numbers))
}

fn user(config: &Config, name: &str) -> Result<User> {
    open_store(config)?
        .users()
        .user_by_name(name)?
        .with_context(|| format!("no user {name:?} (`callpop users list`)"))
}

pub(crate) fn run_blast(config: Config, args: BlastArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let campaigns = service(&config, &runtime)?;
    let user = user(&config, &args.user)?;
    let template = if args.template.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.template)
            .with_context(|| format!("cannot read {}", args.template.display()))?
    };
    let source = match (&args.group, &args.file, args.all) {
        (Some(g), _, _) => Source::Group(g.clone()),
        (_, Some(f), _) => Source::File(f.clone()),
        (_, _, true) => Source::AllCustomers,
        (None, None, false) if args.filter.is_some() => Source::AllCustomers,
        _ => bail!("say who receives it: --group NAME, --file SHEET, --filter EXPR or --all"),
    };
    let filter = args
        .filter
        .as_deref()
        .map(callpop::sms::rules::Filter::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--filter: {e}"))?;
    let window = args
        .window
        .as_deref()
        .map(Window::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--window: {e}"))?;
    let start_at = args.start_at.as_deref().map(parse_local).transpose()?;
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{} {}",
            args.template
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "blast".into()),
            chrono::Local::now().format("%Y-%m-%d %H:%M")
        )
    });
    let draft = Draft {
        name,
        template: template.trim_end_matches(['\r', '\n']).to_string(),
        suffix: args.suffix.clone(),
        source,
        filter,
        start_at,
        window,
    };
    runtime.block_on(async {
        let created = campaigns.create(&user, draft).await?;
        let preview = campaigns.preview(created.id, args.preview).await?;
        if args.dry_run {
            let id = created.id;
            campaigns_delete(&campaigns, id).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "dry_run": true, "campaign": created, "preview": preview })
                    )?
                );
            } else {
                print_created("dry run: would send to", &created, &preview);
                println!("nothing was created or sent");
            }
            return Ok(());
        }
        let started = campaigns.start(&user, created.id).await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "campaign": created, "state": started.state }))?
            );
        } else {
            print_created(&format!("campaign {}:", created.id), &created, &preview);
            println!(
                "campaign {} started; the daemon's modems send it (`callpop sms campaigns show {}`)",
                created.id, created.id
            );
        }
        if args.no_wait || args.json {
            return Ok(());
        }
        follow(&campaigns, created.id).await
    })
}

/// Drops a dry run's draft.
async fn campaigns_delete(campaigns: &Campaigns, id: i64) -> Result<()> {
    campaigns.delete_draft(id).await?;
    Ok(())
}

fn print_created(
    title: &str,
    c: &callpop::sms::campaign::Created,
    preview: &[callpop::sms::campaign::PreviewRow],
) {
    println!(
        "{title} {} recipients ({} invalid, {} duplicate skipped), {} parts, estimated cost ¥{:.2}",
        c.recipients, c.invalid, c.duplicate, c.parts, c.cost
    );
    for p in preview {
        match (&p.text, &p.estimate, &p.skip) {
            (Some(text), Some(e), _) => println!(
                "  {:<16} {} part(s) {:<5} ¥{:.3} {:<14} {text}",
                p.number,
                e.parts,
                e.encoding,
                e.cost,
                e.carrier.as_deref().unwrap_or("-")
            ),
            (_, _, skip) => println!(
                "  {:<16} skipped: {}",
                p.number,
                skip.as_deref().unwrap_or("invalid")
            ),
        }
    }
}

/// A progress bar until the campaign is done, cancelled or Ctrl-C.
async fn follow(campaigns: &Campaigns, id: i64) -> Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40.cyan/blue} {pos}/{len} parts  {per_sec}  ETA {eta}  {msg}",
        )
        .expect("a valid progress template"),
    );
    let mut quiet_for = 0;
    loop {
        let c = campaigns.get(id).await?;
        let p = campaigns.progress(id).await?;
        bar.set_length(p.parts.max(1) as u64);
        bar.set_position(p.settled_parts() as u64);
        let states = p
            .states
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        bar.set_message(format!("[{}] {states}", c.state.as_str()));
        if matches!(c.state, CampaignState::Done | CampaignState::Cancelled) {
            bar.finish();
            println!("campaign {id} {}", c.state.as_str());
            return Ok(());
        }
        if c.state == CampaignState::Scheduled || p.settled_parts() == 0 {
            quiet_for += 1;
            if quiet_for == 20 {
                bar.println(
                    "nothing sent yet: is `callpop serve` running with GSM modems, and is it inside the sending window?",
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => {
                bar.abandon();
                println!("campaign {id} goes on in the daemon; `callpop sms campaigns show {id}` follows it");
                return Ok(());
            }
        }
    }
}

/// "2026-12-01 09:30" in local time, as ms.
fn parse_local(s: &str) -> Result<i64> {
    let t = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M")
        .with_context(|| format!("--start-at {s:?}: write it like \"2026-12-01 09:30\""))?;
    t.and_local_timezone(chrono::Local)
        .earliest()
        .map(|t| t.timestamp_millis())
        .with_context(|| format!("--start-at {s:?} does not exist in the local time zone"))
}

pub(crate) fn run_campaigns(config: Config, command: Option<CampaignsCommand>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command.unwrap_or(CampaignsCommand::List { json: false }) {
        CampaignsCommand::List { json } => {
            let list = open_store(&config)?.campaigns().list(false)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if list.is_empty() {
                println!("no campaigns");
            }
            for c in list {
                println!(
                    "{:>5}  {:<9}  {:>7} parts  ¥{:>9.2}  {:<10} {}",
                    c.id,
                    c.state.as_str(),
                    c.parts,
                    c.cost,
                    c.created_by_name.as_deref().unwrap_or("-"),
                    c.name
                );
            }
            Ok(())
        }
        CampaignsCommand::Show { id, json } => {
            let store = open_store(&config)?;
            let c = store
                .campaigns()
                .campaign(id)?
                .with_context(|| format!("no campaign {id}"))?;
            let p = store.campaigns().campaign_progress(id)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "campaign": c, "progress": p })
                    )?
                );
                return Ok(());
            }
            println!("campaign {id} {:?}: {}", c.name, c.state.as_str());
            println!(
                "recipients {} (pending {}), skipped {:?}",
                p.recipients, p.pending, p.skipped
            );
            println!("parts {}: {:?}", p.parts, p.states);
            Ok(())
        }
        CampaignsCommand::Pause { id, user: u } => control(&config, &runtime, &u, id, "pause"),
        CampaignsCommand::Resume { id, user: u } => control(&config, &runtime, &u, id, "resume"),
        CampaignsCommand::Cancel { id, user: u } => control(&config, &runtime, &u, id, "cancel"),
        CampaignsCommand::Export { id, output } => {
            let store = open_store(&config)?;
            store
                .campaigns()
                .campaign(id)?
                .with_context(|| format!("no campaign {id}"))?;
            let format = ExportFormat::from_path(&output);
            let rows = export_results(&store, id, format, &output, false)?;
            store.users().audit(&callpop::store::AuditEntry {
                actor: "cli",
                user_id: None,
                action: "sms.campaign.export",
                target: Some(&id.to_string()),
                detail: serde_json::json!({ "rows": rows, "file": output.display().to_string() }),
                remote_addr: None,
            })?;
            println!("{rows} recipients written to {}", output.display());
            Ok(())
        }
        CampaignsCommand::Quota { user: name, parts } => {
            if parts < 0 {
                bail!("a quota cannot be negative");
            }
            let store = open_store(&config)?;
            let u = user(&config, &name)?;
            store.campaigns().set_quota(u.id, parts, None)?;
            println!("{name} may start {parts} parts a month");
            Ok(())
        }
        CampaignsCommand::Blacklist { number, note } => {
            // The form the queue keeps, so no other spelling slips past.
            let e164 = callpop::phone::address::destination(&normalizer(&config), &number)?;
            open_store(&config)?.sms().blacklist(&e164, &note, None)?;
            println!("{e164} is blacklisted: nothing will be sent to it");
            Ok(())
        }
    }
}

fn control(
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    id: i64,
    what: &str,
) -> Result<()> {
    let campaigns = service(config, runtime)?;
    let u = user(config, name)?;
    runtime.block_on(async {
        match what {
            "pause" => campaigns.pause(&u, id).await,
            "resume" => campaigns.resume(&u, id).await,
            _ => campaigns.cancel(&u, id).await,
        }
    })?;
    let done = match what {
        "pause" => "paused",
        "resume" => "resumed",
        _ => "cancelled",
    };
    println!("campaign {id} {done}");
    Ok(())
}
