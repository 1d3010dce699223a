//! The `courier` binary: settings, telemetry, build, serve until a signal, stop in order.

use std::process::ExitCode;

use courier::settings::Settings;
use courier::startup::Application;
use courier::telemetry;

#[actix_web::main]
async fn main() -> ExitCode {
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
