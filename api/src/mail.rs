//! E-mail for staff notifications (issue 13): when an SMTP relay is configured, a background
//! pass sends each person whose work address is recorded the items of their inbox
//! (`GET /v1/me/notifications`) they have not been sent yet, through the relay (`lettre`).
//! Each (notification, person) is claimed in `mail_sent` before it is sent, so two servers or
//! a restart never send one twice; a failed send gives the claim back for the next pass.
//! Recorded notifications older than a day when the address first appears are not mailed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diario_log::Val;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

/// The relay and the sender.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (plain, a relay on the local network), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://host:465`; credentials as `smtp://user:password@host`.
    pub relay: String,
    /// The sender, e.g. `Diario Online <noreply@diario.example>`.
    pub from: String,
    /// How often the pass runs.
    pub interval: Duration,
}

/// The relay's transport and the sender, or why the settings cannot be used.
fn transport(
    settings: &MailSettings,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox), String> {
    let from = settings
        .from
        .parse::<Mailbox>()
        .map_err(|e| format!("DIARIO_MAIL_FROM {:?}: {e}", settings.from))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.relay)
        .map_err(|e| format!("DIARIO_SMTP_URL: {e}"))?
        .timeout(Some(Duration::from_secs(10)))
        .build();
    Ok((transport, from))
}

/// Why the mail settings cannot be used.
pub fn check(settings: &MailSettings) -> Result<(), String> {
    transport(settings).map(drop)
}

/// Kinds that depend on the clock: mailed whenever they appear, however old the address.
const TIME_BASED: [&str; 2] = ["request-expiring", "notification-undeliverable"];

/// One pass: every unsent inbox item of every person with an address. Returns how many were
/// sent.
pub async fn send_pass(
    state: &AppState,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let db = &state.db;
    let people = diario_projections::emails(db)
        .await
        .map_err(|e| e.to_string())?;
    let mut sent = 0;
    for (person, address) in people {
        let Ok(to) = address.parse::<Mailbox>() else {
            tracing::warn!(person = %person, "the recorded e-mail address cannot be used");
            continue;
        };
        let inbox =
            diario_projections::inbox(db, state.handler.catalogue(), &person, &[], now, 100)
                .await
                .map_err(|e| e.to_string())?;
        for item in inbox {
            let fresh = TIME_BASED.contains(&item.kind.as_str())
                || now - item.at <= chrono::Duration::days(1);
            if !fresh {
                continue;
            }
            let claimed = db
                .exec(
                    "INSERT INTO mail_sent (notification_id, person, sent_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (notification_id, person) DO NOTHING",
                    &[
                        item.id.as_str().into(),
                        person.as_str().into(),
                        Val::instant_text(now),
                    ],
                )
                .await
                .map_err(|e| e.to_string())?;
            if claimed == 0 {
                continue;
            }
            let body = format!(
                "{}\n\nPratica {}, fase {}.\nApri il Diario Online: {}/\n\n\
                 Messaggio automatico del Diario Online: non rispondere.\n",
                item.message, item.case_id, item.phase, state.web.public_url
            );
            let message = Message::builder()
                .from(from.clone())
                .to(to.clone())
                .subject(format!("Diario Online – {}", subject(&item.kind)))
                .header(ContentType::TEXT_PLAIN)
                .body(body)
                .map_err(|e| e.to_string())?;
            if let Err(e) = transport.send(message).await {
                // Give the claim back: the next pass tries again.
                let _ = db
                    .exec(
                        "DELETE FROM mail_sent WHERE notification_id = $1 AND person = $2",
                        &[item.id.as_str().into(), person.as_str().into()],
                    )
                    .await;
                return Err(format!("the SMTP relay refused or is unreachable: {e}"));
            }
            sent += 1;
        }
    }
    Ok(sent)
}

fn subject(kind: &str) -> &'static str {
    match kind {
        "confirmation-rejected" => "prestazioni rifiutate dal destinatario",
        "request-expired" => "richiesta di conferma scaduta",
        "request-expiring" => "richiesta di conferma in scadenza",
        _ => "notifica FirmaLOM non consegnata",
    }
}

/// Starts the mail pass every `settings.interval` until `stop`.
pub fn spawn(
    state: AppState,
    settings: MailSettings,
) -> Result<(watch::Sender<bool>, JoinHandle<()>), String> {
    let (transport, from) = transport(&settings)?;
    let (tx, mut rx) = watch::channel(false);
    let handle = tokio::spawn(async move {
        loop {
            if *rx.borrow() {
                break;
            }
            match send_pass(&state, &transport, &from, state.handler.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "notification e-mails sent"),
                Err(e) => tracing::warn!(error = %e, "notification e-mails: will retry"),
            }
            tokio::select! {
                _ = rx.changed() => break,
                () = tokio::time::sleep(settings.interval) => {}
            }
        }
        tracing::info!(worker = "mail", "stopped");
    });
    Ok((tx, handle))
}
