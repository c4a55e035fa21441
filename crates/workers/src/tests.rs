//! Tests of the worker pool.

use super::*;
use std::sync::mpsc;

fn pool(workers: usize, capacity: usize) -> WorkerPool {
    WorkerPool::new(PoolConfig {
        workers,
        queue_capacity: capacity,
        threads_per_job: 1,
        reserved_cores: 0,
        device: DevicePreference::Cpu,
    })
    .unwrap()
}

/// Blocks a single worker until released, so tests control what is queued.
fn occupy(p: &WorkerPool) -> (JobHandle<()>, mpsc::Sender<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let h = p
        .submit("blocker", Priority::High, move |_| {
            started_tx.send(()).unwrap();
            rx.recv().unwrap();
            Ok(())
        })
        .unwrap();
    started_rx.recv().unwrap();
    (h, tx)
}

#[test]
fn runs_jobs_and_returns_results() {
    let p = pool(2, 8);
    let handles: Vec<_> = (0..6u64)
        .map(|i| {
            p.submit("sq", Priority::Normal, move |_| Ok(i * i))
                .unwrap()
        })
        .collect();
    let results: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
    assert_eq!(results, vec![0, 1, 4, 9, 16, 25]);
    assert_eq!(p.stats().completed, 6);
}

#[test]
fn full_queue_refuses_with_a_clear_error() {
    let p = pool(1, 2);
    let (blocker, release) = occupy(&p);
    let a = p.submit("a", Priority::Normal, |_| Ok(1)).unwrap();
    let b = p.submit("b", Priority::Normal, |_| Ok(2)).unwrap();
    let err = p.submit("c", Priority::Normal, |_| Ok(3)).unwrap_err();
    assert_eq!(err, SubmitError::QueueFull { capacity: 2 });
    assert_eq!(
        err.to_string(),
        "the job queue is full (2 jobs waiting); retry later"
    );
    assert_eq!(p.stats().queued, 2);
    release.send(()).unwrap();
    blocker.wait().unwrap();
    assert_eq!(a.wait(), Ok(1));
    assert_eq!(b.wait(), Ok(2));
    // Room again.
    assert_eq!(
        p.submit("d", Priority::Normal, |_| Ok(4)).unwrap().wait(),
        Ok(4)
    );
}

#[test]
fn each_priority_has_its_own_capacity() {
    let p = pool(1, 2);
    let (blocker, release) = occupy(&p);
    let order = Arc::new(Mutex::new(Vec::new()));
    let job = |name: &'static str| {
        let order = Arc::clone(&order);
        move |_: &JobContext<'_>| -> Result<(), JobError> {
            order.lock().push(name);
            Ok(())
        }
    };
    let mut handles = vec![
        p.submit("n1", Priority::Normal, job("n1")).unwrap(),
        p.submit("n2", Priority::Normal, job("n2")).unwrap(),
    ];
    assert_eq!(
        p.submit("n3", Priority::Normal, job("n3")).unwrap_err(),
        SubmitError::QueueFull { capacity: 2 }
    );
    // A full normal queue leaves room for the higher and the lower priority.
    handles.push(p.submit("h", Priority::High, job("h")).unwrap());
    handles.push(p.submit("l", Priority::Low, job("l")).unwrap());
    assert_eq!(p.stats().queued, 4);
    release.send(()).unwrap();
    blocker.wait().unwrap();
    for h in handles {
        h.wait().unwrap();
    }
    assert_eq!(*order.lock(), vec!["h", "n1", "n2", "l"]);
    // Popped jobs free their priority's places.
    let again: Vec<_> = (0..2)
        .map(|i| p.submit("n", Priority::Normal, move |_| Ok(i)).unwrap())
        .collect();
    let got: Vec<i32> = again.into_iter().map(|h| h.wait().unwrap()).collect();
    assert_eq!(got, vec![0, 1]);
}

#[test]
fn priorities_then_fifo() {
    let p = pool(1, 16);
    let (blocker, release) = occupy(&p);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for (name, prio) in [
        ("low1", Priority::Low),
        ("n1", Priority::Normal),
        ("high", Priority::High),
        ("n2", Priority::Normal),
        ("low2", Priority::Low),
    ] {
        let order = Arc::clone(&order);
        handles.push(
            p.submit(name, prio, move |_| {
                order.lock().push(name);
                Ok(())
            })
            .unwrap(),
        );
    }
    release.send(()).unwrap();
    blocker.wait().unwrap();
    for h in handles {
        h.wait().unwrap();
    }
    assert_eq!(*order.lock(), vec!["high", "n1", "n2", "low1", "low2"]);
}

#[test]
fn cancellation_of_queued_and_running_jobs_with_progress() {
    let p = pool(1, 4);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let running = p
        .submit("scan", Priority::Normal, move |ctx| {
            ctx.set_progress(0, 1000);
            started_tx.send(()).unwrap();
            for i in 0..1000u64 {
                ctx.check_cancelled()?;
                ctx.set_progress(i, 1000);
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        })
        .unwrap();
    let queued = p.submit("never", Priority::Normal, |_| Ok(())).unwrap();
    started_rx.recv().unwrap();
    assert_eq!(queued.status(), JobStatus::Queued);
    queued.cancel();
    std::thread::sleep(Duration::from_millis(20));
    let (done, total) = running.progress();
    assert_eq!(total, 1000);
    assert!(done > 0, "progress reported");
    assert_eq!(running.status(), JobStatus::Running);
    running.cancel();
    assert_eq!(running.wait(), Err(JobError::Cancelled));
    assert_eq!(queued.wait(), Err(JobError::Cancelled));
}

#[test]
fn a_panicking_job_fails_and_the_worker_survives() {
    let p = pool(1, 4);
    let h = p
        .submit("boom", Priority::Normal, |_| -> Result<(), JobError> {
            panic!("bad input")
        })
        .unwrap();
    assert_eq!(h.wait(), Err(JobError::Panicked("bad input".into())));
    assert_eq!(
        p.submit("after", Priority::Normal, |_| Ok(7))
            .unwrap()
            .wait(),
        Ok(7)
    );
}

#[test]
fn shutdown_resolves_queued_jobs_and_refuses_new_ones() {
    let p = pool(1, 4);
    let (blocker, release) = occupy(&p);
    let queued = p.submit("q", Priority::Normal, |_| Ok(())).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        release.send(()).unwrap();
    });
    p.shutdown();
    releaser.join().unwrap();
    assert_eq!(queued.wait(), Err(JobError::ShutDown));
    blocker.wait().unwrap();
}

#[test]
fn thread_budget_keeps_a_core_free() {
    let cores = available_cores();
    let err = WorkerPool::new(PoolConfig {
        workers: cores,
        reserved_cores: 1,
        ..PoolConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, PoolError::TooManyThreads { .. }) || cores == 1,
        "{err}"
    );
    let ok = WorkerPool::new(PoolConfig::default()).unwrap();
    assert_eq!(
        ok.config().workers * ok.config().threads_per_job,
        thread_budget(1)
    );
    assert!(
        WorkerPool::new(PoolConfig {
            workers: 0,
            ..PoolConfig::default()
        })
        .is_err()
    );
}

#[test]
fn cuda_preference_falls_back_to_the_cpu() {
    let r = resolve_device(DevicePreference::Cuda(0));
    if cfg!(feature = "cuda") && r.fallback.is_none() {
        assert!(r.device.is_cuda());
    } else {
        assert!(r.device.is_cpu());
        assert!(r.fallback.unwrap().contains("CUDA device 0 unavailable"));
    }
    assert_eq!(
        "cuda:1".parse::<DevicePreference>(),
        Ok(DevicePreference::Cuda(1))
    );
    assert_eq!("cpu".parse::<DevicePreference>(), Ok(DevicePreference::Cpu));
    assert!("tpu".parse::<DevicePreference>().is_err());
}
