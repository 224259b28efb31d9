//! `rkube`: Kubernetes in one binary. This file is the command line and the wiring: it opens
//! the store, loads the certificates, starts the API server, the controllers and the scheduler,
//! and stops them cleanly on a signal.

mod bench;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rkube_apiserver::authn::ClientCertAuthenticator;
use rkube_apiserver::authz::BootstrapAuthorizer;
use rkube_apiserver::pki::Pki;
use rkube_apiserver::{ApiServer, Config};
use rkube_store::{EmbeddedOptions, EmbeddedStore, Store};
use tracing::info;

/// mimalloc instead of glibc malloc: every request and watch event allocates and frees many
/// small objects from several threads, and glibc's malloc took about half of the server's CPU
/// under load (docs/BENCHMARKS.md, "The allocator"). Transparent huge pages are off for it
/// (`no_thp`) so that idle memory stays small.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rkube",
    version,
    about = "Kubernetes in one binary",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: the Kubernetes API over HTTPS on an embedded store.
    Server(ServerArgs),
    /// Measure the system: `rkube bench api`, `rkube bench scheduler`.
    Bench(bench::BenchArgs),
    /// Run the node simulator against a cluster (nodes annotated `sim.rkube.io/node: "true"`).
    Sim(SimArgs),
}

#[derive(Args)]
struct SimArgs {
    /// Kubeconfig of the cluster to simulate nodes in.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// IP range the simulated nodes' pod CIDRs (one /24 each) come from.
    #[arg(long, default_value = rkube_node::sim::DEFAULT_CLUSTER_CIDR)]
    cluster_cidr: String,
}

#[derive(Args)]
struct ServerArgs {
    /// Directory for the store, certificates and kubeconfig.
    #[arg(long, default_value = "/var/lib/rkube")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// HTTPS port of the API.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Where to write the admin kubeconfig [default: <data-dir>/admin.kubeconfig].
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// IP range (CIDR) for Service cluster IPs.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// Port range for NodePort Services.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// KubeSchedulerConfiguration file (profiles, plugins, weights) for the scheduler.
    #[arg(long, value_name = "FILE")]
    scheduler_config: Option<PathBuf>,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    disable_scheduler: bool,
    /// Create this many simulated nodes, sim-0 … sim-<N-1>.
    #[arg(long, default_value_t = 0)]
    simulated_nodes: usize,
    /// Do not run the node simulator in this process.
    #[arg(long)]
    disable_simulator: bool,
    /// IP range the nodes' pod CIDRs (one /24 each) come from.
    #[arg(long, default_value = rkube_node::sim::DEFAULT_CLUSTER_CIDR)]
    cluster_cidr: String,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Server(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(server(args))
        }
        Command::Bench(args) => bench::run(args),
        Command::Sim(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(simulate(args))
        }
    }
}

/// `rkube sim`: the node simulator as its own process against any cluster.
async fn simulate(args: SimArgs) -> Result<()> {
    let config = rkube_node::sim::Config::new(&args.cluster_cidr)?;
    let client = rkube_client::from_kubeconfig(&args.kubeconfig).await?;
    let stop = rkube_controllers::Shutdown::new();
    let simulator = tokio::spawn(rkube_node::sim::run(client, config, stop.clone()));
    wait_for_signal().await?;
    stop.cancel();
    simulator.await??;
    Ok(())
}

fn parse_port_range(s: &str) -> Result<(u16, u16)> {
    let (lo, hi) = s
        .split_once('-')
        .context("port range must look like 30000-32767")?;
    let (lo, hi): (u16, u16) = (lo.trim().parse()?, hi.trim().parse()?);
    if lo == 0 || lo > hi {
        bail!("invalid port range {s}");
    }
    Ok((lo, hi))
}

async fn server(args: ServerArgs) -> Result<()> {
    let started = Instant::now();
    let service_cidr = Config::parse_cidr(&args.service_cidr).map_err(anyhow::Error::msg)?;
    let node_port_range = parse_port_range(&args.service_node_port_range)?;
    let scheduler = scheduler(&args)?;
    let simulator_config = rkube_node::sim::Config::new(&args.cluster_cidr)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;

    let store = Arc::new(
        EmbeddedStore::open(&args.data_dir.join("db"), EmbeddedOptions::default())
            .with_context(|| format!("opening the store in {}", args.data_dir.display()))?,
    );

    let advertise = if args.bind_address.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        args.bind_address
    };
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        advertise.to_string(),
    ];
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        hosts.push(name.trim().to_string());
    }
    hosts.push("kubernetes.default.svc".into());
    hosts.push("kubernetes.default.svc.cluster.local".into());
    hosts.dedup();
    let pki = Pki::load_or_create(&args.data_dir.join("tls"), &hosts)
        .context("preparing certificates")?;
    let tls = rkube_apiserver::server::tls_config(&pki)?;

    let config = Config {
        service_cidr,
        node_port_range,
        advertise_address: advertise.to_string(),
        port: args.secure_port,
    };
    let api = ApiServer::new(
        store.clone() as Arc<dyn Store>,
        Box::new(BootstrapAuthorizer),
        config,
    );
    let addr = SocketAddr::new(args.bind_address, args.secure_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(rkube_apiserver::server::serve(
        listener,
        tls,
        api.clone(),
        Arc::new(ClientCertAuthenticator),
        stop_rx,
    ));

    api.start()
        .await
        .map_err(|e| anyhow::anyhow!("starting the API server: {e}"))?;
    let controllers_stop = rkube_controllers::Shutdown::new();
    let controllers = tokio::spawn(rkube_controllers::run_all(
        rkube_client::in_process(api.clone()),
        controllers_stop.clone(),
    ));
    let scheduler = scheduler.map(|scheduler| {
        tokio::spawn(scheduler.run(
            rkube_client::in_process(api.clone()),
            controllers_stop.clone(),
        ))
    });
    let simulator = (!args.disable_simulator).then(|| {
        tokio::spawn(rkube_node::sim::run(
            rkube_client::in_process(api.clone()),
            simulator_config,
            controllers_stop.clone(),
        ))
    });
    rkube_node::sim::create_nodes(&rkube_client::in_process(api.clone()), args.simulated_nodes)
        .await
        .context("creating simulated nodes")?;
    let kubeconfig_path = args
        .write_kubeconfig
        .clone()
        .unwrap_or_else(|| args.data_dir.join("admin.kubeconfig"));
    let url_host = match advertise {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let kubeconfig = pki.kubeconfig(
        &format!("https://{url_host}:{}", args.secure_port),
        &pki.admin,
    );
    rkube_apiserver::pki::write_file(&kubeconfig_path, kubeconfig.as_bytes())
        .context("writing the kubeconfig")?;
    info!(
        address = %addr,
        kubeconfig = %kubeconfig_path.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "rkube is ready"
    );

    wait_for_signal().await?;
    info!("shutting down");
    controllers_stop.cancel();
    let _ = controllers.await;
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    if let Some(simulator) = simulator {
        let _ = simulator.await;
    }
    let _ = stop_tx.send(true);
    let _ = serving.await;
    store.close();
    Ok(())
}

/// The scheduler of `rkube server`, built from `--scheduler-config` (upstream's defaults
/// without it); `None` with `--disable-scheduler`.
fn scheduler(args: &ServerArgs) -> Result<Option<rkube_scheduler::runner::Scheduler>> {
    if args.disable_scheduler {
        return Ok(None);
    }
    let config = match &args.scheduler_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            rkube_scheduler::SchedulerConfiguration::from_yaml(&text)
                .with_context(|| format!("loading {}", path.display()))?
        }
        None => rkube_scheduler::SchedulerConfiguration::default(),
    };
    let scheduler =
        rkube_scheduler::runner::Scheduler::new(&config, &rkube_scheduler::Registry::in_tree())?;
    Ok(Some(scheduler))
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
