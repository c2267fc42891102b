//! The background work a pass at a time (`Mode::Passes`, as on AWS Lambda,
//! where a scheduled event asks for each pass): the outbox's notifications
//! leave with a pass, once; the retention runs on the first pass and then
//! once per `ASTRO_RETENTION_EVERY_SECS` of the service's clock.

use std::time::Duration;

use astro_service::{background::Mode, domain::clock::Clock};
use tokio::time::Instant;

use crate::helpers::*;

#[tokio::test]
async fn in_passes_the_outbox_leaves_with_a_pass_and_the_retention_keeps_its_interval() {
    let hook = crate::notify::receiver(200).await;
    let clock = Clock::system();
    let app = spawn_app_on_with(clock.clone(), |c| {
        c.background = Mode::Passes;
        c.retention_every_secs = 3600;
        c.notify.webhook_urls = vec![hook.url.clone()];
        c.notify.webhook_secret = Some(crate::notify::KEY.parse().unwrap());
        c.notify.webhook_allow_private = true;
    })
    .await;
    let background = app.background().expect("the work runs in passes");
    let deadline = || Instant::now() + Duration::from_secs(30);

    let mut admin = app.admin().await;
    create(&mut admin, "Ada", "ada@example.com").await;
    // No loop took it: the pass claims it, sends it, once.
    let first = background.pass(deadline()).await;
    assert_eq!(first.notifications, 1, "{first:?}");
    assert_eq!(hook.until(1).await.len(), 1);
    assert_eq!(first.erased, Some(0), "the first pass of a process runs the retention");
    assert!(!first.cut_short);

    let second = background.pass(deadline()).await;
    assert_eq!((second.notifications, second.erased), (0, None), "nothing due, retention not yet: {second:?}");
    assert_eq!(hook.received().len(), 1);

    clock.advance(Duration::from_secs(3600));
    let third = background.pass(deadline()).await;
    assert_eq!(third.erased, Some(0), "an hour on, the retention runs again: {third:?}");

    // A deadline already gone: the pass stops before any piece.
    create(&mut admin, "Grace", "grace@example.com").await;
    let late = background.pass(Instant::now()).await;
    assert!(late.cut_short && late.notifications == 0, "{late:?}");
    let next = background.pass(deadline()).await;
    assert_eq!(next.notifications, 1, "the next pass goes on with it: {next:?}");
    assert_eq!(hook.until(2).await.len(), 2);
}
