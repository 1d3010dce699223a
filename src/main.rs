//! The `courier` binary: settings, telemetry, build, serve until a signal, stop in order.

use std::process::ExitCode;

use courier::settings::Settings;
use courier::startup::Application;
use courier::telemetry;

fn main() -> ExitCode {
    limit_malloc_arenas();
    actix_web::rt::System::new().block_on(run())
}

/// glibc gives each thread that allocates under contention an arena of its own and keeps
/// what it freed there: with 100,000 subscriptions busy at once, that spread was 45–60 MiB
/// of the peak (docs/benchmarks.md, T5); two arenas avoid most of it. `MALLOC_ARENA_MAX`,
/// when set, is the operator's choice and glibc reads it itself.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any other thread
        // exists, and a refusal (return 0) leaves glibc's default in place.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

async fn run() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("courier: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    if settings.api_key_generated {
        tracing::warn!(
            "COURIER_API_KEY is not set: generated one for this run only (printed once below)"
        );
        eprintln!("COURIER_API_KEY={}", settings.api_key.expose());
    }
    let bind = settings.bind.clone();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("courier: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(bind = %bind, port = app.port(), "courier is listening");
    let handle = app.handle();
    actix_web::rt::spawn(async move {
        let signal = wait_for_signal().await;
        tracing::info!(
            signal,
            "stopping: no new connections; finishing requests in flight"
        );
        handle.stop(true).await;
    });
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("courier stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("courier: server error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return "none";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
