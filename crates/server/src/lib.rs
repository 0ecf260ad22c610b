//! The `yiqiao` command: `serve`, `migrate`, `demo`, `keys`, `audit-verify`, `print-config`.
//! Start-up fails closed: encrypted data without its key ring refuses to start (S1).

pub mod bench;
pub mod config;

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use crypto::{CipherKind, KeyRing};
use store::Store;

use crate::config::Config;

#[derive(Parser)]
#[command(name = "yiqiao", version, about = "Yiqiao (医桥) — online consultation and telemedicine platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// Where the SQLite database, key ring and files live.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…` (default: SQLite in the data dir).
    #[arg(long, global = true)]
    database: Option<String>,
    /// Configuration file (default: ./yiqiao.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (migrates first).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
        /// Seed demo institutions and accounts (published passwords; never in production).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Seed the demo data only.
    Demo {
        #[command(flatten)]
        common: Common,
    },
    /// Show key ids, or rotate the data key.
    Keys {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: Option<KeysAction>,
    },
    /// Check the audit hash chain; names the first broken link.
    AuditVerify {
        #[command(flatten)]
        common: Common,
    },
    /// Print the effective configuration (secrets redacted).
    PrintConfig {
        #[command(flatten)]
        common: Common,
    },
    /// Load-test an in-process server over loopback (throwaway database by default).
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum KeysAction {
    /// List key ids (default).
    Show,
    /// Add a new data key, make it active, and re-encrypt old rows.
    Rotate,
    /// Re-encrypt rows still under old keys (resumable).
    Reencrypt,
}

fn load_config(c: &Common) -> anyhow::Result<Config> {
    let mut cfg = Config::load(c.config.as_deref())?;
    if let Some(d) = &c.data_dir {
        cfg.data_dir.clone_from(d);
    }
    if let Some(u) = &c.database {
        cfg.database.url.clone_from(u);
    }
    Ok(cfg)
}

async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let url = cfg.database_url();
    let store =
        Store::connect(&url).await.with_context(|| format!("cannot open database {}", config::redact_url(&url)))?;
    store.migrate().await.context("migrations failed")?;
    Ok(store)
}

/// Loads the key ring (file, or `YIQIAO_KEYRING`), creating one only for an empty database.
async fn load_keys(cfg: &Config, store: &Store, may_create: bool) -> anyhow::Result<KeyRing> {
    let cipher: CipherKind = cfg.crypto.cipher.parse().context("crypto.cipher must be aes-256-gcm or sm4-gcm")?;
    let path = cfg.keyring_path();
    let keys = if let Ok(json) = std::env::var("YIQIAO_KEYRING") {
        KeyRing::from_json(&json).context("YIQIAO_KEYRING is not a valid key ring")?
    } else if path.exists() {
        KeyRing::load(&path).with_context(|| format!("cannot read key ring {}", path.display()))?
    } else {
        app::keys::ensure_no_orphaned_data(store).await?;
        if !may_create {
            bail!("no key ring at {}; start `yiqiao serve` once to create it", path.display());
        }
        let (k, _) = KeyRing::load_or_create(&path, cipher)?;
        eprintln!(
            "created a new key ring at {} (owner-only); back it up — without it the data cannot be read",
            path.display()
        );
        k
    };
    app::keys::check_binding(store, &keys).await?;
    Ok(keys)
}

/// Issue 11 item 10: seals the plaintext values migration m0016 set aside, before anything reads
/// them. Resumable (each batch commits with its backlog rows deleted) and a no-op once done.
async fn seal_backlog(store: &Store, keys: &KeyRing) -> anyhow::Result<()> {
    let pending = store::repo::seal::pending(&store.db).await?;
    if pending == 0 {
        return Ok(());
    }
    tracing::info!(pending, "sealing clinical text stored in clear before this version");
    let sealed = app::seal::convert_backlog(store, keys, 500)
        .await
        .context("sealing stored text failed; it resumes on the next start")?;
    tracing::info!(sealed, "stored clinical text sealed");
    Ok(())
}

fn build_app(cfg: &Config, store: Store, keys: KeyRing, demo: bool) -> anyhow::Result<app::App> {
    let blobs = store::blob::BlobStore::from_url(&cfg.blob.url, &cfg.data_dir.join("blobs"), &cfg.blob.s3_options())
        .context("[blob] url")?;
    Ok(app::App::new(store, Arc::new(keys), Arc::new(app::SystemClock), cfg.app_config(demo), blobs)
        .with_outbound(cfg.outbound()?))
}

async fn serve(cfg: Config, listen: Option<String>, demo: bool) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    let keys = load_keys(&cfg, &store, true).await?;
    seal_backlog(&store, &keys).await?;
    let mut app = build_app(&cfg, store, keys, demo)?;
    if !cfg.bus.nats.is_empty() {
        let bus = app::bus::NatsBus::connect(&cfg.bus.nats, &cfg.bus.subject)
            .await
            .with_context(|| format!("[bus] nats = {}", config::redact_url(&cfg.bus.nats)))?;
        app.bus = Arc::new(bus);
        tracing::info!(subject = %cfg.bus.subject, "realtime events fan out through NATS");
    }
    if std::env::var_os("YIQIAO_KEYRING").is_none() {
        // S1: pick up a ring rotated by `yiqiao keys rotate` while this server runs.
        app.keys.watch(cfg.keyring_path());
        let handle = app.keys.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            loop {
                tick.tick().await;
                match handle.reload_if_changed() {
                    Ok(true) => tracing::info!("key ring reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "changed key ring not loaded"),
                }
            }
        });
    }
    if demo {
        app::demo::seed(&app).await.context("demo seeding failed")?;
        println!(
            "Demo accounts (password {}; staff TOTP secret {}):",
            app::demo::DEMO_PASSWORD,
            app::account::DEMO_TOTP_SECRET
        );
        for (login, role) in app::demo::accounts() {
            println!("  {login:<12} {role}");
        }
    }
    // S1: move rows encrypted under older keys forward, in the background.
    let bg = app.clone();
    tokio::spawn(async move {
        match app::keys::reencrypt_all(&bg).await {
            Ok(s) if s.rewritten > 0 => tracing::info!(rewritten = s.rewritten, "re-encryption finished"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = ?e, "re-encryption failed; it resumes on the next start"),
        }
    });
    // A2/E3: the durable job scheduler (response clocks). Jobs live in the database, so clocks that
    // ran out while the server was down fire once on the next pass.
    tokio::spawn(app::jobs::work(app.clone(), std::time::Duration::from_secs(1)));
    // E3: e-mail and SMS deliveries go out from their own worker, outside any transaction.
    if !app.outbound.channels.is_empty() {
        tokio::spawn(app::notify::work(app.clone(), std::time::Duration::from_secs(1)));
    }
    // D5: device readings over MQTT, through the same checks and alerts as HTTP.
    if !cfg.mqtt.broker.is_empty() {
        let client_id = if cfg.mqtt.client_id.is_empty() {
            format!("yiqiao-{}", std::process::id())
        } else {
            cfg.mqtt.client_id.clone()
        };
        let mqtt = app::monitoring::mqtt::MqttConfig {
            broker: cfg.mqtt.broker.clone(),
            client_id,
            username: cfg.mqtt.username.clone(),
            password: cfg.mqtt.password.clone(),
            // A floor, so a typo cannot make every reading too large.
            max_payload_bytes: cfg.mqtt.max_payload_bytes.max(64 * 1024),
            session_expiry_secs: cfg.mqtt.session_expiry_secs,
        };
        tokio::spawn(app::monitoring::mqtt::run(app.clone(), mqtt));
    }
    let addr = listen.unwrap_or_else(|| cfg.server.listen.clone());
    let router = web::router(app, cfg.server.secure_cookies);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    println!("Yiqiao listening on http://{addr}");
    axum::serve(no_delay(listener), router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (service managers) ends the server gracefully.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { common, listen, demo } => serve(load_config(&common)?, listen, demo).await?,
        Command::Migrate { common } => {
            open_store(&load_config(&common)?).await?;
            println!("migrations applied");
        }
        Command::Demo { common } => {
            let cfg = load_config(&common)?;
            let store = open_store(&cfg).await?;
            let keys = load_keys(&cfg, &store, true).await?;
            seal_backlog(&store, &keys).await?;
            app::demo::seed(&build_app(&cfg, store, keys, true)?).await?;
            println!("demo data seeded");
        }
        Command::Keys { common, action } => {
            let cfg = load_config(&common)?;
            let store = open_store(&cfg).await?;
            let mut keys = load_keys(&cfg, &store, false).await?;
            match action.unwrap_or(KeysAction::Show) {
                KeysAction::Show => {}
                KeysAction::Rotate => {
                    if std::env::var_os("YIQIAO_KEYRING").is_some() {
                        bail!("the key ring comes from YIQIAO_KEYRING; rotate it where it is stored");
                    }
                    let cipher: CipherKind = cfg.crypto.cipher.parse()?;
                    let id = keys.try_rotate(cipher)?;
                    keys.save(&cfg.keyring_path())?;
                    let app = build_app(&cfg, store.clone(), keys.clone(), false)?;
                    app::keys::audit_key_operation(&app, "keys.rotate", &format!("key_id={id}")).await?;
                    println!("new active key {id}; re-encrypting old rows…");
                    let s = app::keys::reencrypt_all(&app).await?;
                    println!(
                        "re-encrypted {} of {} values; running servers load the new ring within 10 s",
                        s.rewritten, s.scanned
                    );
                }
                KeysAction::Reencrypt => {
                    let app = build_app(&cfg, store.clone(), keys.clone(), false)?;
                    let s = app::keys::reencrypt_all(&app).await?;
                    println!("re-encrypted {} of {} values", s.rewritten, s.scanned);
                }
            }
            println!("{:<6} {:<12} {:<8} created", "id", "cipher", "active");
            for k in keys.key_ids() {
                println!("{:<6} {:<12} {:<8} {}", k.id, k.cipher.as_str(), k.active, k.created_at_unix);
            }
            println!(
                "values not yet under the active key: {}",
                store::repo::reencrypt::pending(&store.db, &keys).await?
            );
        }
        Command::AuditVerify { common } => {
            let cfg = load_config(&common)?;
            let store = open_store(&cfg).await?;
            let keys = load_keys(&cfg, &store, false).await?;
            let report = store::repo::audit::verify(&store.db, &keys).await?;
            match report.broken {
                None => println!("audit chain intact: {} events verified", report.events),
                Some(b) => {
                    println!("audit chain BROKEN at event #{}: {}", b.seq, b.reason);
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::PrintConfig { common } => print!("{}", load_config(&common)?.redacted_toml()),
        Command::Bench(args) => bench::run(args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YIQIAO_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Accepted connections with Nagle's algorithm off: chat frames and small JSON answers go out at once
/// instead of waiting for the peer's delayed ACK (tens of milliseconds per message otherwise).
pub(crate) fn no_delay(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt as _;
    fn set(tcp: &mut tokio::net::TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    }
    listener.tap_io(set as fn(&mut tokio::net::TcpStream))
}
