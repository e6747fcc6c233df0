//! The reverse-mode driver: topological order, pruning to what the requested
//! gradients need, cotangent accumulation, and the VJP table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::tensor::{enable_grad, no_grad, Tensor};
use crate::vjp::vjp;

/// Node ids are unique integers: hash them with one multiply.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("IdHasher only hashes u64 ids")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Gradients of `Σ_k ⟨seeds_k, outputs_k⟩` with respect to `wrt`. With
/// `create_graph` the backward pass is itself recorded, so the results can be
/// differentiated again. A `wrt` tensor the outputs do not depend on gets zeros.
#[track_caller]
pub fn backward(outputs: &[(&Tensor, Tensor)], wrt: &[&Tensor], create_graph: bool) -> Vec<Tensor> {
    for (y, s) in outputs {
        assert_eq!(
            y.shape(),
            s.shape(),
            "backward: seed shape {:?} differs from output shape {:?}",
            s.shape(),
            y.shape()
        );
    }
    if create_graph {
        enable_grad(|| run(outputs, wrt))
    } else {
        no_grad(|| run(outputs, wrt))
    }
}

fn run(outputs: &[(&Tensor, Tensor)], wrt: &[&Tensor]) -> Vec<Tensor> {
    // 1. topological order (inputs before outputs) of nodes that carry gradient
    let mut order: Vec<Tensor> = Vec::new();
    let mut pos: IdMap<usize> = IdMap::default();
    let mut visiting: IdMap<()> = IdMap::default();
    let mut stack: Vec<(Tensor, bool)> = Vec::new();
    for (y, _) in outputs {
        if y.requires_grad() {
            stack.push(((*y).clone(), false));
        }
    }
    while let Some((t, expanded)) = stack.pop() {
        let id = t.id();
        if pos.contains_key(&id) {
            continue;
        }
        if expanded {
            pos.insert(id, order.len());
            order.push(t);
            continue;
        }
        if visiting.insert(id, ()).is_some() {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = t.op() {
            for x in op.inputs().into_iter().flatten() {
                if x.requires_grad() && !pos.contains_key(&x.id()) {
                    stack.push((x.clone(), false));
                }
            }
        }
    }

    // 2. a node is needed if a requested tensor is it or lies below it
    let targets: IdMap<()> = wrt.iter().map(|t| (t.id(), ())).collect();
    let mut needed = vec![false; order.len()];
    for (i, t) in order.iter().enumerate() {
        needed[i] = targets.contains_key(&t.id())
            || t.op().is_some_and(|op| {
                op.inputs().into_iter().flatten().any(|x| pos.get(&x.id()).is_some_and(|&j| needed[j]))
            });
    }

    // 3. accumulate cotangents in reverse order
    let mut grads: Vec<Option<Tensor>> = vec![None; order.len()];
    for (y, s) in outputs {
        if let Some(&i) = pos.get(&y.id()) {
            grads[i] = Some(match grads[i].take() {
                None => s.clone(),
                Some(g) => g.add(s),
            });
        }
    }
    for i in (0..order.len()).rev() {
        if !needed[i] {
            continue;
        }
        let node = &order[i];
        let Some(op) = node.op() else { continue };
        let g = if targets.contains_key(&node.id()) {
            match &grads[i] {
                Some(g) => g.clone(),
                None => continue,
            }
        } else {
            match grads[i].take() {
                Some(g) => g,
                None => continue,
            }
        };
        let ins = op.inputs();
        let slot = |k: usize| ins[k].and_then(|x| pos.get(&x.id()).copied().filter(|&j| needed[j]));
        let slots = [slot(0), slot(1)];
        if slots.iter().all(Option::is_none) {
            continue;
        }
        let cts = vjp(op, node, &g, [slots[0].is_some(), slots[1].is_some()]);
        for (ct, s) in cts.into_iter().zip(slots) {
            if let (Some(ct), Some(j)) = (ct, s) {
                grads[j] = Some(match grads[j].take() {
                    None => ct,
                    Some(acc) => acc.add(&ct),
                });
            }
        }
    }

    wrt.iter()
        .map(|t| match pos.get(&t.id()).and_then(|&i| grads[i].clone()) {
            Some(g) => g,
            None => Tensor::zeros(t.shape(), t.dtype()),
        })
        .collect()
}
