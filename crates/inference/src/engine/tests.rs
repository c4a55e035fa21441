use super::*;
use crate::{
    adapter::AdapterConfig,
    model::{
        Target,
        tests::{bits, tiny_config},
    },
};
use candle_core::Device;

fn adapters(config: &crate::ModelConfig) -> Vec<Arc<LoraAdapter>> {
    let mut rslora = AdapterConfig::new(4, 16.0, &Target::ALL);
    rslora.use_rslora = true;
    let mut patterned = AdapterConfig::new(2, 4.0, &[Target::Q, Target::V, Target::Down]);
    patterned.rank_pattern = vec![("v_proj".into(), 6)];
    patterned.alpha_pattern = vec![("down_proj".into(), 1.0)];
    let specs = [
        AdapterConfig::new(8, 16.0, &[Target::Q, Target::V]),
        rslora,
        patterned,
        AdapterConfig::new(1, 2.0, &[Target::Gate, Target::Up, Target::O]),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Arc::new(LoraAdapter::random(s, config, 100 + i as u64, &Device::Cpu).unwrap())
        })
        .collect()
}

/// 32 requests over five adapters (and the base), greedy and sampled, of varied lengths.
fn requests(adapters: &[Arc<LoraAdapter>]) -> Vec<Request> {
    (0..32u32)
        .map(|i| {
            let len = 1 + (i as usize * 5) % 11;
            let prompt = (0..len as u32).map(|j| (i * 13 + j * 7 + 2) % 64).collect();
            let adapter = match i % 5 {
                0 => None,
                k => Some(adapters[k as usize - 1].clone()),
            };
            let params = SamplingParams {
                temperature: [0.0, 0.7, 1.0, 1.3][i as usize % 4],
                top_k: [0, 5, 0, 20][i as usize % 4],
                top_p: [1.0, 1.0, 0.9, 0.8][(i as usize / 4) % 4],
                seed: u64::from(i) * 7919,
                max_tokens: 3 + (i as usize % 6),
                stop_token_ids: if i % 3 == 0 {
                    vec![(i * 11) % 64]
                } else {
                    Vec::new()
                },
                ignore_eos: i % 2 == 0,
                return_logits: true,
                return_tail: false,
                logprobs: (i % 4 == 1).then_some(3),
            };
            Request {
                prompt,
                adapter,
                params,
            }
        })
        .collect()
}

fn fingerprint(c: &Completion) -> (Vec<u32>, Vec<Vec<u32>>, FinishReason) {
    let logits = c
        .logits
        .iter()
        .map(|row| row.iter().map(|v| v.to_bits()).collect())
        .collect();
    (c.tokens.clone(), logits, c.finish_reason)
}

#[test]
fn outputs_are_bit_identical_whatever_the_batch_order_size_and_threads() {
    let config = tiny_config();
    let model = Arc::new(LlamaModel::random(config.clone(), 77, &Device::Cpu).unwrap());
    let adapters = adapters(&config);
    let reqs = requests(&adapters);
    let one = Engine::new(model.clone(), 1).unwrap();
    let two = Engine::new(model, 2).unwrap();

    // The reference: every request alone on one thread.
    let alone: Vec<_> = reqs
        .iter()
        .map(|r| fingerprint(&one.generate(vec![r.clone()]).unwrap()[0]))
        .collect();
    // The requests really differ from one another (adapters and sampling matter).
    let distinct: std::collections::BTreeSet<_> = alone.iter().map(|f| f.0.clone()).collect();
    assert!(
        distinct.len() > 20,
        "only {} distinct completions",
        distinct.len()
    );

    let check = |engine: &Engine, order: &[usize], what: &str| {
        let batch: Vec<Request> = order.iter().map(|&i| reqs[i].clone()).collect();
        let out = engine.generate(batch).unwrap();
        for (&i, c) in order.iter().zip(&out) {
            assert_eq!(fingerprint(c), alone[i], "request {i} in {what}");
        }
    };
    let all: Vec<usize> = (0..32).collect();
    let reversed: Vec<usize> = (0..32).rev().collect();
    let interleaved: Vec<usize> = (0..32).map(|i| (i * 13) % 32).collect();
    for (engine, threads) in [(&one, 1), (&two, 2)] {
        check(engine, &[5], &format!("a batch of 1 on {threads} threads"));
        check(
            engine,
            &[3, 30, 8, 1, 17, 22, 9],
            &format!("a batch of 7 on {threads} threads"),
        );
        check(engine, &all, &format!("a batch of 32 on {threads} threads"));
        check(
            engine,
            &reversed,
            &format!("a reversed batch of 32 on {threads} threads"),
        );
        check(
            engine,
            &interleaved,
            &format!("a shuffled batch of 32 on {threads} threads"),
        );
    }
}

#[test]
fn requests_joining_a_running_batch_get_the_same_output() {
    let config = tiny_config();
    let model = Arc::new(LlamaModel::random(config.clone(), 78, &Device::Cpu).unwrap());
    let adapters = adapters(&config);
    let reqs = requests(&adapters);
    let engine = Engine::new(model, 2).unwrap();
    let alone: Vec<_> = reqs
        .iter()
        .take(12)
        .map(|r| fingerprint(&engine.generate(vec![r.clone()]).unwrap()[0]))
        .collect();
    let mut batch = Batch::new();
    let mut ids = Vec::new();
    for r in reqs.iter().take(6) {
        ids.push(engine.add(&mut batch, r.clone()).unwrap());
    }
    engine.step(&mut batch).unwrap();
    engine.step(&mut batch).unwrap();
    for r in reqs.iter().skip(6).take(6) {
        ids.push(engine.add(&mut batch, r.clone()).unwrap());
    }
    let mut done = std::collections::BTreeMap::new();
    while batch.active() > 0 {
        engine.step(&mut batch).unwrap();
        done.extend(batch.take_finished());
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(fingerprint(&done[id]), alone[i], "request {i}");
    }
}

#[test]
fn stop_tokens_max_tokens_and_invalid_requests() {
    let config = tiny_config();
    let model = Arc::new(LlamaModel::random(config, 79, &Device::Cpu).unwrap());
    let engine = Engine::new(model, 1).unwrap();
    let greedy = |max_tokens, stop: Vec<u32>| Request {
        prompt: vec![4, 5, 6],
        adapter: None,
        params: SamplingParams {
            max_tokens,
            stop_token_ids: stop,
            ignore_eos: true,
            ..SamplingParams::default()
        },
    };
    let long = engine.generate(vec![greedy(6, vec![])]).unwrap().remove(0);
    assert_eq!(long.tokens.len(), 6);
    assert_eq!(long.finish_reason, FinishReason::Length);
    assert_eq!(long.prompt_tokens, 3);
    let stop = long.tokens[2];
    let first_stop = long.tokens.iter().position(|&t| t == stop).unwrap();
    let cut = engine
        .generate(vec![greedy(6, vec![stop])])
        .unwrap()
        .remove(0);
    assert_eq!(cut.tokens, long.tokens[..first_stop]);
    assert_eq!(cut.finish_reason, FinishReason::Stop(stop));

    let mut batch = Batch::new();
    let bad = [
        Request {
            prompt: vec![],
            ..greedy(1, vec![])
        },
        Request {
            prompt: vec![64],
            ..greedy(1, vec![])
        },
        greedy(0, vec![]),
        greedy(126, vec![]),
        Request {
            params: SamplingParams {
                top_p: 0.0,
                ..SamplingParams::default()
            },
            ..greedy(1, vec![])
        },
    ];
    for r in bad {
        assert!(matches!(
            engine.add(&mut batch, r),
            Err(InferenceError::InvalidRequest(_))
        ));
    }
    let mut other = tiny_config();
    other.intermediate_size = 48;
    let foreign = LoraAdapter::random(
        AdapterConfig::new(2, 2.0, &[Target::Up]),
        &other,
        1,
        &Device::Cpu,
    )
    .unwrap();
    let r = Request {
        adapter: Some(Arc::new(foreign)),
        ..greedy(1, vec![])
    };
    assert!(matches!(
        engine.add(&mut batch, r),
        Err(InferenceError::AdapterMismatch(_))
    ));
    assert_eq!(batch.active(), 0);
}

/// What attribution differentiates of a served request is its forward pass: the tail captured
/// in a mixed batch gives the logits of the whole sequence fed alone, bit for bit, and equals
/// the tail captured by feeding the sequence alone.
#[test]
fn a_served_tail_is_the_forward_pass_of_its_sequence_bit_for_bit() {
    let config = tiny_config();
    let model = Arc::new(LlamaModel::random(config.clone(), 78, &Device::Cpu).unwrap());
    let adapters = adapters(&config);
    let mut reqs = requests(&adapters);
    for r in &mut reqs {
        r.params.return_tail = true;
    }
    let served = Engine::new(model.clone(), 2)
        .unwrap()
        .generate(reqs.clone())
        .unwrap();
    let mut checked = 0;
    for (r, c) in reqs.iter().zip(&served) {
        let tail = c.tail.as_ref().expect("a tail was asked for");
        let seq: Vec<u32> = r.prompt.iter().chain(&c.tokens).copied().collect();
        let fed = seq.len() - 1;
        if fed == 0 {
            continue;
        }
        let adapter = r.adapter.as_deref();
        let from_tail = model
            .tail_logits(tail, 0, fed, adapter, &CpuLoraKernel)
            .unwrap();
        let mut cache = KvCache::new();
        let mut alone = [SeqInput {
            tokens: &seq[..fed],
            cache: &mut cache,
            adapter,
        }];
        let full = model
            .forward(&mut alone, &CpuLoraKernel, Logits::All)
            .unwrap();
        assert_eq!(bits(&from_tail), bits(&full), "request {checked}");
        if c.finish_reason == FinishReason::Length {
            let captured = crate::train::capture_tails(&model, &[&seq], adapter).unwrap();
            assert_eq!(tail, &captured[0]);
        }
        checked += 1;
    }
    assert!(checked > 20);
    // Past the tail's positions is an error, not a panic.
    let tail = served[0].tail.as_ref().unwrap();
    assert!(
        model
            .tail_logits(tail, tail.len(), 1, None, &CpuLoraKernel)
            .is_err()
    );
}
