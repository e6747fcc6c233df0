//! The local backend: each point in a worker process of its own (`odl sweep
//! point DIR ID`, its output in `logs/<id>.log`), `jobs` at a time, each
//! with an equal share of the cores. A worker that dies (a crash, a kill,
//! memory) leaves no result; the driver records why, and the sweep goes on.
//! Workers still running from an earlier driver (killed with SIGKILL, or a
//! SIGINT sent to the driver alone) are waited for, not started twice.

use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::plan::Point;
use crate::store::{Status, Store};

/// How a run of points ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// finished with a result
    pub done: usize,
    /// finished with an error
    pub failed: usize,
}

/// A progress display for points: done / running / failed / left, and time.
pub struct Progress {
    bar: indicatif::ProgressBar,
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    running: AtomicUsize,
    tty: bool,
    t0: Instant,
    printed: Mutex<usize>,
}

impl Progress {
    /// A display for `total` points.
    pub fn new(total: usize) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = indicatif::ProgressBar::new(total as u64);
        if tty {
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "sweep {bar:30} {pos}/{len} {msg} [{elapsed} / ~{eta}]",
                )
                .expect("template"),
            );
        } else {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let p = Progress {
            bar,
            total,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            tty,
            t0: Instant::now(),
            printed: Mutex::new(0),
        };
        p.redraw();
        p
    }

    fn line(&self) -> String {
        let (d, f, r) = (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.running.load(Ordering::Relaxed),
        );
        format!("done {d} · running {r} · failed {f} · left {}", self.total.saturating_sub(d + f + r))
    }

    fn redraw(&self) {
        self.bar.set_message(self.line());
    }

    /// Sets how many points are running now.
    pub fn running(&self, n: usize) {
        self.running.store(n, Ordering::Relaxed);
        self.redraw();
    }

    /// A point started.
    pub fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
        self.redraw();
    }

    /// A point finished (`None`: done; `Some(why)`: failed).
    pub fn finished(&self, p: &Point, failure: Option<&str>, was_running: bool) {
        if was_running {
            self.running.fetch_sub(1, Ordering::Relaxed);
        }
        match failure {
            None => self.done.fetch_add(1, Ordering::Relaxed),
            Some(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
        self.bar.inc(1);
        self.redraw();
        if let Some(why) = failure {
            let first = why.lines().next().unwrap_or("");
            self.bar.println(format!("✗ {} {} seed={}: {first}", p.id, p.group(), p.seed));
            if !self.tty {
                eprintln!("✗ {} {} seed={}: {first}", p.id, p.group(), p.seed);
            }
        } else if !self.tty {
            // without a terminal: a line per point for small sweeps, every 5 % for big ones
            let n = self.done.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed);
            let mut printed = self.printed.lock().expect("progress lock");
            if self.total <= 50
                || n * 20 / self.total.max(1) > *printed * 20 / self.total.max(1)
                || n == self.total
            {
                eprintln!("  {} [{:.0} s]", self.line(), self.t0.elapsed().as_secs_f64());
            }
            *printed = n;
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        Counts { done: self.done.load(Ordering::Relaxed), failed: self.failed.load(Ordering::Relaxed) }
    }
}

/// Runs `points` with `exe` (the odl binary) as worker processes, `jobs`
/// at a time.
pub fn run(store: &Store, points: &[Point], jobs: usize, exe: &Path) -> Result<Counts> {
    let progress = Progress::new(points.len());
    // workers of an earlier driver still at work: wait for them
    let elsewhere = store.running();
    let (busy, free): (Vec<&Point>, Vec<&Point>) =
        points.iter().partition(|p| elsewhere.iter().any(|(id, _)| *id == p.id));
    if !busy.is_empty() {
        eprintln!(
            "odl sweep: {} point(s) are still running in workers of an earlier run; waiting for them instead of starting them twice",
            busy.len()
        );
    }
    let threads = (std::thread::available_parallelism().map_or(1, |n| n.get()) / jobs.max(1)).max(1);
    let queue = Mutex::new(free.into_iter().rev().collect::<Vec<_>>());
    let waiting = Mutex::new(busy);
    let error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    progress.running(waiting.lock().expect("waiting").len());
    std::thread::scope(|sc| {
        sc.spawn(|| wait_for_others(store, &waiting, &queue, &progress));
        for _ in 0..jobs.max(1) {
            sc.spawn(|| loop {
                let next = queue.lock().expect("queue").pop();
                let Some(p) = next else {
                    if waiting.lock().expect("waiting").is_empty() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                progress.started();
                let outcome = run_worker(store, p, exe, threads);
                let failure = match outcome {
                    Ok(Status::Done) => None,
                    Ok(Status::Failed(why)) => Some(why),
                    Ok(Status::Pending) => Some("no result".into()),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        error.lock().expect("error").get_or_insert(e);
                        Some(msg)
                    }
                };
                progress.finished(p, failure.as_deref(), true);
            });
        }
    });
    progress.finish();
    if let Some(e) = error.into_inner().expect("error") {
        return Err(e);
    }
    Ok(progress.counts())
}

/// Polls workers of an earlier driver until they are gone; a point they
/// left without a result goes back to the queue.
fn wait_for_others<'a>(
    store: &Store,
    waiting: &Mutex<Vec<&'a Point>>,
    queue: &Mutex<Vec<&'a Point>>,
    progress: &Progress,
) {
    loop {
        let mut w = waiting.lock().expect("waiting");
        if w.is_empty() {
            return;
        }
        let running = store.running();
        w.retain(|p| {
            if running.iter().any(|(id, _)| *id == p.id) {
                return true;
            }
            match store.status(&p.id) {
                Status::Done => progress.finished(p, None, true),
                Status::Failed(why) => progress.finished(p, Some(&why), true),
                Status::Pending => {
                    progress.running.fetch_sub(1, Ordering::Relaxed);
                    queue.lock().expect("queue").push(p);
                }
            }
            false
        });
        drop(w);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs one worker process and makes sure the point has a result.
fn run_worker(store: &Store, p: &Point, exe: &Path, threads: usize) -> Result<Status> {
    let log_path = store.log(&p.id);
    let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let status = Command::new(exe)
        .arg("sweep")
        .arg("point")
        .arg(&store.dir)
        .arg(&p.id)
        .env("ODL_THREADS", threads.to_string())
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("starting the worker {}", exe.display()))?;
    let now = store.status(&p.id);
    if now == Status::Pending {
        let how = describe_exit(&status);
        store.record_failure(p, format!("the worker {how} without a result{}", log_tail(&log_path)))?;
        return Ok(store.status(&p.id));
    }
    Ok(now)
}

/// `exited with status 3` / `was killed by signal 9`.
pub fn describe_exit(s: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("was killed by signal {sig}");
        }
    }
    match s.code() {
        Some(c) => format!("exited with status {c}"),
        None => "stopped".into(),
    }
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return format!(" (log: {})", path.display());
    }
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    format!(" (log {}: {tail})", path.display())
}
