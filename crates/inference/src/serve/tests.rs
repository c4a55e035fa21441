use super::*;
use crate::{
    AdapterConfig, Engine, LlamaModel, LoraAdapter, Request, SamplingParams,
    model::{Target, byte_level_tokenizer, tests::tiny_config},
    weights::StoreDtype,
};
use candle_core::Device;
use std::{
    sync::{Arc, mpsc},
    time::Duration,
};

/// A tiny model over the byte-level tokenizer (256 bytes + `<s>`, `</s>`).
fn setup(adapters: usize, budget: usize) -> (Scheduler, Arc<LlamaModel>, Vec<Arc<LoraAdapter>>) {
    setup_with(adapters, budget, Arc::new(InlineSteps))
}

/// [`setup`] with the loop's steps run by `steps`.
fn setup_with(
    adapters: usize,
    budget: usize,
    steps: Arc<dyn StepRunner>,
) -> (Scheduler, Arc<LlamaModel>, Vec<Arc<LoraAdapter>>) {
    let mut config = tiny_config();
    config.vocab_size = 258;
    config.eos_token_ids = vec![257];
    let model = Arc::new(LlamaModel::random(config.clone(), 5, &Device::Cpu).unwrap());
    let tokenizer = Arc::new(byte_level_tokenizer(&["<s>", "</s>"]).unwrap());
    let cache = Arc::new(AdapterCache::new(config.clone(), Device::Cpu, budget));
    let mut list = Vec::new();
    for i in 0..adapters {
        let a = LoraAdapter::random(
            AdapterConfig::new(2 + i % 3, 8.0, &[Target::Q, Target::V, Target::Down]),
            &config,
            40 + i as u64,
            &Device::Cpu,
        )
        .unwrap();
        let (c, w) = a.to_bytes(StoreDtype::F32).unwrap();
        cache
            .register(
                &format!("ad{i}"),
                AdapterSource::Bytes {
                    config: c.into(),
                    weights: w.into(),
                },
            )
            .unwrap();
        list.push(Arc::new(a));
    }
    let engine = Engine::new(model.clone(), 2).unwrap();
    let sched = Scheduler::start(
        engine,
        tokenizer,
        cache,
        SchedulerConfig {
            max_batch_size: 8,
            max_prefill_tokens: 64,
            max_waiting: 40,
            loader_threads: 2,
            steps,
        },
    )
    .unwrap();
    (sched, model, list)
}

fn params(i: usize, max_tokens: usize) -> SamplingParams {
    SamplingParams {
        temperature: [0.0, 0.8, 1.2][i % 3],
        top_p: [1.0, 0.9][i % 2],
        seed: i as u64 * 31,
        max_tokens,
        ignore_eos: true,
        logprobs: Some(2),
        ..SamplingParams::default()
    }
}

fn submit(
    s: &Scheduler,
    adapter: Option<String>,
    prompt: Vec<u32>,
    params: SamplingParams,
    stop: Vec<String>,
) -> Result<mpsc::Receiver<Event>, SubmitError> {
    let (tx, rx) = mpsc::channel();
    s.submit(GenerateRequest {
        adapter,
        prompt,
        params,
        stop,
        skip_special_tokens: true,
        sink: Box::new(move |e| tx.send(e).is_ok()),
    })?;
    Ok(rx)
}

/// Collects a stream: (text, tokens, logprobs of the sampled tokens, finish).
fn collect(rx: mpsc::Receiver<Event>) -> (String, Vec<u32>, Vec<u32>, Finish) {
    let (mut text, mut tokens, mut lps) = (String::new(), Vec::new(), Vec::new());
    loop {
        match rx.recv_timeout(Duration::from_secs(60)).expect("an event") {
            Event::Delta {
                text: t,
                tokens: ts,
                logprobs,
            } => {
                assert!(logprobs.is_empty() || logprobs.len() == ts.len());
                text.push_str(&t);
                tokens.extend(ts);
                lps.extend(logprobs.iter().map(|l| l.logprob.to_bits()));
            }
            Event::Finished {
                reason,
                completion_tokens,
                ..
            } => {
                assert_eq!(completion_tokens, tokens.len());
                return (text, tokens, lps, reason);
            }
            Event::Failed(e) => panic!("request failed: {e}"),
        }
    }
}

/// Runs each step on a thread of its own (as a worker pool would) and counts them.
#[derive(Debug, Default)]
struct OtherThread {
    steps: std::sync::atomic::AtomicUsize,
}

impl StepRunner for OtherThread {
    fn run(&self, step: Step) -> Result<(), String> {
        self.steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::spawn(step)
            .join()
            .map_err(|_| "panicked".to_string())
    }
}

/// Refuses every step, as a pool that is shutting down does.
#[derive(Debug)]
struct Refusing;

impl StepRunner for Refusing {
    fn run(&self, _step: Step) -> Result<(), String> {
        Err("the worker pool is shutting down".into())
    }
}

#[test]
fn served_streams_equal_a_request_run_alone() {
    let (sched, model, adapters) = setup(5, 1 << 30);
    served_equal_alone(&sched, &model, &adapters);
}

#[test]
fn steps_run_where_the_runner_puts_them() {
    let runner = Arc::new(OtherThread::default());
    let (sched, model, adapters) = setup_with(5, 1 << 30, runner.clone());
    served_equal_alone(&sched, &model, &adapters);
    assert!(runner.steps.load(std::sync::atomic::Ordering::SeqCst) > 0);

    // A step that cannot run fails its requests with the runner's reason; nothing hangs.
    let (sched, _, _) = setup_with(0, 0, Arc::new(Refusing));
    let rx = submit(&sched, None, vec![65, 66], params(0, 4), vec![]).unwrap();
    match rx.recv_timeout(Duration::from_secs(30)).unwrap() {
        Event::Failed(why) => assert_eq!(why, "inference failed: the worker pool is shutting down"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(sched.stats().waiting, 0);
}

/// Twenty requests at once over the base and five cold adapters: each stream equals the
/// request run alone.
fn served_equal_alone(sched: &Scheduler, model: &Arc<LlamaModel>, adapters: &[Arc<LoraAdapter>]) {
    let prompts: Vec<Vec<u32>> = (0..20u32)
        .map(|i| {
            (0..(3 + i % 7))
                .map(|j| 32 + (i * 7 + j * 3) % 90)
                .collect()
        })
        .collect();
    // Everything at once, mixing the base and five cold adapters.
    let rxs: Vec<_> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let adapter = (i % 6 != 0).then(|| format!("ad{}", i % 5));
            submit(sched, adapter, p.clone(), params(i, 6 + i % 5), vec![]).unwrap()
        })
        .collect();
    let served: Vec<_> = rxs.into_iter().map(collect).collect();
    let alone = Engine::new(model.clone(), 1).unwrap();
    let tok = byte_level_tokenizer(&["<s>", "</s>"]).unwrap();
    for (i, p) in prompts.iter().enumerate() {
        let adapter = (i % 6 != 0).then(|| adapters[i % 5].clone());
        let want = alone
            .generate(vec![Request {
                prompt: p.clone(),
                adapter,
                params: params(i, 6 + i % 5),
            }])
            .unwrap()
            .remove(0);
        let (text, tokens, _, finish) = &served[i];
        assert_eq!(tokens, &want.tokens, "request {i}");
        assert_eq!(*finish, Finish::Length);
        // Text is what the whole decode gives, minus characters left incomplete at the end.
        let whole = tok.decode(&want.tokens, true).unwrap();
        assert_eq!(
            text.as_str(),
            whole.trim_end_matches('\u{FFFD}'),
            "request {i}"
        );
    }
    let stats = sched.cache().stats();
    assert_eq!(stats.loads, 5);
    assert!(stats.misses >= 1);
    assert_eq!(sched.stats().waiting, 0);
}

#[test]
fn stop_strings_bad_requests_and_capacity() {
    let (sched, _, _) = setup(1, 1 << 30);
    let prompt: Vec<u32> = b"hello".iter().map(|&b| u32::from(b)).collect();
    let p = SamplingParams {
        logprobs: None,
        ..params(0, 12)
    };
    let (text, tokens, _, _) =
        collect(submit(&sched, None, prompt.clone(), p.clone(), vec![]).unwrap());
    // Stop on a string made of the third and fourth characters generated.
    let chars: Vec<char> = text.chars().collect();
    if chars.len() >= 4 {
        let stop: String = chars[2..4].iter().collect();
        let first = text.find(&stop).unwrap();
        let (cut, cut_tokens, _, finish) =
            collect(submit(&sched, None, prompt.clone(), p.clone(), vec![stop.clone()]).unwrap());
        assert_eq!(cut, text[..first]);
        assert_eq!(finish, Finish::StopString(stop));
        assert!(cut_tokens.len() < tokens.len());
    }

    let unknown = submit(
        &sched,
        Some("nope".into()),
        prompt.clone(),
        p.clone(),
        vec![],
    );
    assert_eq!(
        unknown.err(),
        Some(SubmitError::UnknownModel("nope".into()))
    );
    let too_long = SamplingParams {
        max_tokens: 200,
        ..p.clone()
    };
    assert!(matches!(
        submit(&sched, None, prompt.clone(), too_long, vec![]),
        Err(SubmitError::Invalid(_))
    ));

    // Fill the queue: more than max_waiting + max_batch_size requests at once are refused,
    // and the accepted ones all finish.
    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..120 {
        match submit(&sched, None, prompt.clone(), p.clone(), vec![]) {
            Ok(rx) => accepted.push(rx),
            Err(SubmitError::QueueFull(_)) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused > 0, "a full queue refuses");
    for rx in accepted {
        collect(rx);
    }
    assert_eq!(sched.stats().waiting, 0);
}

#[test]
fn a_departed_client_frees_its_sequence() {
    let (sched, _, _) = setup(0, 0);
    let (tx, rx) = mpsc::channel::<Event>();
    let mut sent = 0;
    sched
        .submit(GenerateRequest {
            adapter: None,
            prompt: vec![65, 66],
            params: SamplingParams {
                max_tokens: 100,
                ..params(0, 100)
            },
            stop: vec![],
            skip_special_tokens: true,
            sink: Box::new(move |e| {
                sent += 1;
                // The client goes away after its second event.
                sent < 2 && tx.send(e).is_ok()
            }),
        })
        .unwrap();
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(matches!(first, Event::Delta { .. }));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sched.stats().running > 0 {
        assert!(std::time::Instant::now() < deadline, "sequence not freed");
        std::thread::sleep(Duration::from_millis(5));
    }
    // No Finished event reached the departed client.
    assert!(rx.try_iter().all(|e| !matches!(e, Event::Finished { .. })));
}
