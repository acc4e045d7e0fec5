//! The `callpop` command: the daemon and its admin tools.

use anyhow::Result;

/// mimalloc: the daemon and the importer allocate on one thread and free on
/// another, which glibc's arena locks serialise (import 38k -> 54k rows/s).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::config::{self, Config, LogFormat, Override};
use callpop::customers::ExportFormat;
use callpop::logging;
use callpop::phone::{MatchPolicy, Normalizer};
use callpop::store::Store;

mod admin;
mod call;
mod campaigns;
mod cid;
mod customers;
mod daemon;
mod devices;
mod recordings;
mod report;
mod sms;
mod tokens;
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
    /// List, show and check firmware profiles (one per device model).
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Serial ports and the configured devices.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Simulated devices on pseudo-terminals, for trying callpop without hardware.
    #[command(subcommand)]
    Sim(SimCommand),
    /// GSM modems (短信猫).
    #[command(subcommand)]
    Modem(ModemCommand),
    /// Call recordings (录音): list them, repair interrupted ones, purge old ones.
    #[command(subcommand)]
    Recordings(recordings::RecordingsCommand),
    /// Send SMS and read the ones received.
    #[command(subcommand)]
    Sms(sms::SmsCommand),
    /// Users who log in: agents, team leads, QA, marketers, admins.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// API tokens for other systems (a CRM, a script): list, create, revoke.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Work-order forms (工单), as TOML.
    #[command(subcommand)]
    Forms(admin::FormsCommand),
    /// Which desktops each line pops on.
    #[command(subcommand)]
    Lines(admin::LinesCommand),
    /// Outbound calls (外拨): dial a number through a line as a user, hang up.
    #[command(subcommand)]
    Call(call::CallCommand),
    /// Caller ID in line audio: decode a recording, write test signals.
    #[command(subcommand)]
    Cid(cid::CidCommand),
    /// Statistics (坐席统计): calls, agents, teams or lines per interval,
    /// with each figure's formula.
    Report(report::ReportArgs),
    /// Write a consistent copy of the database while callpop runs.
    Backup {
        /// The backup file (must not exist yet).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ProfilesCommand {
    /// Every profile: shipped ones and those in profile_dir.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One profile, as TOML.
    Show { name: String },
    /// Validate a profile file; errors name the line.
    Check { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub(crate) enum DevicesCommand {
    /// Serial ports with their USB ids, serial number, maker and the profiles that fit.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run the configured devices and print line and call events as they happen.
    Watch {
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Sound cards that can record (a recording box is one): the names an
    /// `[[audio]] capture` pattern is matched against.
    Audio,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ModemCommand {
    /// Ask a modem who it is: maker, model, firmware, IMEI, IMSI, SIM, operator,
    /// registration, signal and SMSC.
    Probe {
        /// The port, best a /dev/serial/by-id path.
        #[arg(long)]
        port: PathBuf,
        /// The modem's profile (default: the best match for the port's USB ids).
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum SimCommand {
    /// A simulated caller-ID box or voice modem on a pseudo-terminal.
    Box {
        /// The profile whose protocol it speaks.
        #[arg(long)]
        profile: String,
        /// Path of the link to the terminal, for a [[device]] path.
        #[arg(long, default_value = "callpop-sim-box")]
        link: PathBuf,
        /// Play this script (see src/sim/script.rs), then stay plugged in.
        #[arg(long, conflicts_with = "random")]
        script: Option<PathBuf>,
        /// Place random calls, one every INTERVAL seconds on average.
        #[arg(long, value_name = "INTERVAL")]
        random: Option<f64>,
        /// How the far end of calls it is asked to dial behaves:
        /// answer[:SECS[:TALK]], busy, no-answer, no-dialtone, fail, random.
        #[arg(long, value_name = "FAR", default_value = "random")]
        far_end: callpop::sim::far_end::FarEnd,
    },
    /// A simulated GSM modem (短信猫) on a pseudo-terminal, in a profile's flavour.
    Modem {
        /// A gsm-modem profile (`callpop profiles list`).
        #[arg(long)]
        profile: String,
        /// Path of the link to the terminal, for a [[device]] path.
        #[arg(long, default_value = "callpop-sim-modem")]
        link: PathBuf,
        /// Time the network takes to accept each part, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        send_latency_ms: u64,
        /// Deliver an incoming message every SECS seconds on average.
        #[arg(long, value_name = "SECS")]
        incoming: Option<f64>,
        /// Act as a modem just powered on for SECS seconds: +CME ERROR: 515
        /// to most commands and "SIM busy" to AT+CPIN? until then.
        #[arg(long, value_name = "SECS", default_value_t = 0.0)]
        starting: f64,
        /// How the far end of calls it is asked to dial behaves:
        /// answer[:SECS[:TALK]], busy, no-answer, no-dialtone, fail, random.
        #[arg(long, value_name = "FAR", default_value = "random")]
        far_end: callpop::sim::far_end::FarEnd,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address for HTTP and websocket (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
pub(crate) enum CustomersCommand {
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
pub(crate) enum ConfigCommand {
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
    if let Command::Serve(a) = &cli.command {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| toml_string(&p.display().to_string()));
        flag("--tls-cert", "server.tls_cert", path(&a.tls_cert));
        flag("--tls-key", "server.tls_key", path(&a.tls_key));
    }
    config::load_from_process(g.config.as_deref(), &overrides)
}

/// Quotes a flag's value so it is always read as a TOML string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve(_) => daemon::run_daemon(config, None),
        Command::Modem(ModemCommand::Probe {
            port,
            profile,
            json,
        }) => devices::modem_probe(&config, &port, profile.as_deref(), json),
        Command::Users(c) => admin::run_users(c, &config),
        Command::Tokens(c) => tokens::run(c, &config),
        Command::Forms(c) => admin::run_forms(c, &config),
        Command::Lines(c) => admin::run_lines(c, &config),
        Command::Call(c) => call::run_call(c, &config),
        Command::Demo(args) => daemon::run_demo(config, args.reset),
        Command::Customers(c) => customers::run_customers(c, &config),
        Command::Config(ConfigCommand::Check) => {
            // What the daemon checks when it starts, beyond the file's shape.
            let crms = callpop::crm::configure(&config.crms).map_err(|e| anyhow::anyhow!(e))?;
            println!("configuration ok");
            for c in &crms {
                println!("CRM {:?}: connector {:?}", c.label, c.connector.name);
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", toml::to_string_pretty(&config)?);
            Ok(())
        }
        Command::Profiles(c) => devices::run_profiles(c, &config),
        Command::Devices(DevicesCommand::List { json }) => devices::devices_list(&config, json),
        Command::Devices(DevicesCommand::Watch { json }) => devices::devices_watch(config, json),
        Command::Devices(DevicesCommand::Audio) => {
            let found = callpop::devices::audio::capture_devices();
            if found.is_empty() {
                println!("no capture devices (no sound card, or ALSA shows none)");
            }
            for d in found {
                println!("{d}");
            }
            Ok(())
        }
        Command::Sim(SimCommand::Box {
            profile,
            link,
            script,
            random,
            far_end,
        }) => devices::sim_box(&config, &profile, &link, script.as_deref(), random, far_end),
        Command::Sim(SimCommand::Modem {
            profile,
            link,
            send_latency_ms,
            incoming,
            starting,
            far_end,
        }) => devices::sim_modem(
            &config,
            &profile,
            &link,
            devices::SimModemArgs {
                send_latency_ms,
                incoming,
                starting,
                far_end,
            },
        ),
        Command::Sms(c) => sms::run_sms(c, config),
        Command::Recordings(c) => recordings::run_recordings(c, config),
        Command::Cid(c) => cid::run_cid(c),
        Command::Report(args) => report::run_report(args, &config),
        Command::Backup { output } => report::run_backup(&output, &config),
    }
}

pub(crate) fn normalizer(config: &Config) -> Normalizer {
    Normalizer::new(config.normalizer_settings())
}

pub(crate) fn match_policy(config: &Config) -> MatchPolicy {
    MatchPolicy {
        suffix_digits: config.phone.suffix_digits,
        suffix_max_matches: config.phone.suffix_max_matches,
    }
}

pub(crate) fn open_store(config: &Config) -> Result<Store> {
    let store = Store::open(&config.db_path())?;
    store.set_cache_mb(config.store.cache_mb)?;
    Ok(store)
}
