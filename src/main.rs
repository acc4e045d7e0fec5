//! The `callpop` command: the daemon and its admin tools.

use anyhow::{Context, Result};

/// mimalloc: the daemon and the importer allocate on one thread and free on
/// another, which glibc's arena locks serialise (import 38k -> 54k rows/s).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::config::{self, Config, LogFormat, Override};
use callpop::customers::{self, ExportFormat};
use callpop::phone::{MatchPolicy, Normalizer};
use callpop::store::{Store, StoreHandle};
use callpop::{demo, logging, web};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const ENV_HELP: &str = "\
Settings come from the config file, then CALLPOP_* environment variables, then flags (flags win).
Every config key can be set from the environment: nested keys join with a double underscore,
e.g. CALLPOP_PHONE__SUFFIX_DIGITS=6 sets [phone] suffix_digits, CALLPOP_DB sets db.
Any key can also be set with --set KEY=VALUE, e.g. --set phone.region=HK.
See examples/callpop.toml for every setting.";

/// callpop: caller-ID screen-pop, call recording and SMS for call centers.
#[derive(Parser, Debug)]
#[command(name = "callpop", version, about, long_about = None, after_help = ENV_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct GlobalArgs {
    /// TOML config file.
    #[arg(long, global = true, env = "CALLPOP_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database (default: <data-dir>/callpop.db).
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Directory for the database and other state.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log output format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter in RUST_LOG syntax, e.g. "info,callpop::devices=debug".
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
    /// Set any config key, e.g. --set phone.suffix_digits=7 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = Override::parse_set)]
    set: Vec<Override>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: devices, call engine, web desktop.
    Serve(ServeArgs),
    /// Run the daemon on a demo data directory with sample customers.
    Demo(DemoArgs),
    /// Import, export and look up customers.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Check or print the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address for HTTP and websocket (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Address for HTTP and websocket (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Delete the demo data directory first and start afresh.
    #[arg(long)]
    reset: bool,
}

#[derive(Subcommand, Debug)]
enum CustomersCommand {
    /// Import customers from CSV (UTF-8, GBK, Big5...) or XLSX.
    Import {
        /// The file; headers in Chinese or English (姓名/name, 电话/手机/phone, 公司/company...).
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export every customer in the layout `import` reads back.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Output file.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Find the customers a number belongs to, as a screen-pop would.
    Lookup {
        number: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate the configuration; exits non-zero and names the problem if bad.
    Check,
    /// Print the effective configuration as TOML.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("callpop: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_format, &config.log);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callpop: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> Result<Config, config::ConfigError> {
    let g = &cli.global;
    let mut overrides = g.set.clone();
    let mut flag = |name: &str, key: &str, value: Option<String>| {
        if let Some(v) = value {
            overrides.push(Override::flag(name, key, toml_string(&v)));
        }
    };
    flag("--db", "db", g.db.as_ref().map(|p| p.display().to_string()));
    flag(
        "--data-dir",
        "data_dir",
        g.data_dir.as_ref().map(|p| p.display().to_string()),
    );
    flag(
        "--log-format",
        "log_format",
        g.log_format.map(|f| format!("{f:?}").to_lowercase()),
    );
    flag("--log", "log", g.log.clone());
    let listen = match &cli.command {
        Command::Serve(a) => a.listen,
        Command::Demo(a) => a.listen,
        _ => None,
    };
    flag("--listen", "server.listen", listen.map(|a| a.to_string()));
    config::load_from_process(g.config.as_deref(), &overrides)
}

/// Quotes a flag's value so it is always read as a TOML string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve(_) => run_daemon(config, None),
        Command::Demo(args) => run_demo(config, args.reset),
        Command::Customers(c) => run_customers(c, &config),
        Command::Config(ConfigCommand::Check) => {
            println!("configuration ok");
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", toml::to_string_pretty(&config)?);
            Ok(())
        }
    }
}

fn normalizer(config: &Config) -> Normalizer {
    Normalizer::new(config.normalizer_settings())
}

fn match_policy(config: &Config) -> MatchPolicy {
    MatchPolicy {
        suffix_digits: config.phone.suffix_digits,
        suffix_max_matches: config.phone.suffix_max_matches,
    }
}

fn open_store(config: &Config) -> Result<Store> {
    let store = Store::open(&config.db_path())?;
    store.set_cache_mb(config.store.cache_mb)?;
    Ok(store)
}

fn run_customers(command: CustomersCommand, config: &Config) -> Result<()> {
    let store = open_store(config)?;
    match command {
        CustomersCommand::Import { file, json } => {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} importing [{bar:40}] {percent}% {elapsed_precise} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            let report = customers::import_file(&store, &normalizer(config), &file, Some(&bar))?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for line in report.issue_lines() {
                    println!("{line}");
                }
                println!("{report}");
            }
        }
        CustomersCommand::Export { format, output } => {
            let count = customers::export(&store, format, &output)?;
            println!("exported {count} customers to {}", output.display());
        }
        CustomersCommand::Lookup { number, json } => {
            print_lookup(&store, config, &number, json)?;
        }
    }
    Ok(())
}

fn print_lookup(store: &Store, config: &Config, query: &str, json: bool) -> Result<()> {
    let normalized = normalizer(config).normalize_lenient(query);
    let result = match &normalized {
        Some(n) => store.lookup(n, &match_policy(config))?,
        None => callpop::store::LookupResult {
            rule: callpop::phone::MatchRule::None,
            outcome: callpop::phone::MatchOutcome::None,
            matches: Vec::new(),
        },
    };
    if json {
        let out = serde_json::json!({
            "query": query,
            "normalized": normalized.as_ref().map(|n| n.canonical()),
            "rule": result.rule,
            "outcome": result.outcome,
            "matches": result.matches,
        });
        println!("{out}");
        return Ok(());
    }
    match &normalized {
        Some(n) => println!(
            "{query} → {} ({}{})",
            n.canonical(),
            n.kind.as_str(),
            n.extension
                .as_deref()
                .map(|e| format!(", extension {e}"))
                .unwrap_or_default()
        ),
        None => println!("{query} → no digits"),
    }
    println!(
        "rule: {}, {} match{}",
        result.rule.as_str(),
        result.matches.len(),
        if result.matches.len() == 1 { "" } else { "es" }
    );
    for m in &result.matches {
        println!("  #{:<8} {}  {}  {}", m.id, m.name, m.company, m.phone);
    }
    Ok(())
}

/// Sample customers the demo seeds into an empty store.
const DEMO_CUSTOMERS: usize = 500;

fn run_demo(mut config: Config, reset: bool) -> Result<()> {
    let dir = config.data_dir().join("demo");
    if reset && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    if config.db.is_none() {
        config.db = Some(dir.join("callpop.db"));
    }
    let store = open_store(&config)?;
    let added = demo::seed_customers(&store, &normalizer(&config), DEMO_CUSTOMERS)?;
    let total = store.customer_count()?;
    drop(store);
    println!(
        "callpop demo: database {} with {total} customers ({added} seeded now)",
        config.db_path().display()
    );
    run_daemon(config, Some("demo"))
}

fn run_daemon(config: Config, mode: Option<&str>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = StoreHandle::spawn(open_store(&config)?);
        // Warm in the background of the store thread: requests queue behind
        // it for at most a few seconds on a store of millions.
        let warming = store.clone();
        tokio::spawn(async move {
            if let Err(e) = warming.call(|s| s.warm_cache()).await {
                tracing::warn!(error = %e, "could not warm the store cache");
            }
        });
        let listener = web::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        println!(
            "callpop{} listening on http://{addr}/ (health: http://{addr}/healthz); Ctrl-C stops it",
            mode.map(|m| format!(" {m}")).unwrap_or_default()
        );
        tracing::info!(%addr, db = %config.db_path().display(), "callpop started");
        web::serve(listener, web::AppState { store }, shutdown_signal()).await?;
        tracing::info!("callpop stopped");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
