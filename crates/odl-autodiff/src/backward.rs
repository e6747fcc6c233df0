//! The reverse-mode driver: topological order, pruning to what the requested
//! gradients need, the VJP table ([`crate::vjp`]), and what the table leaves
//! to it — undoing broadcasting, forming matrix-product cotangents (lazily
//! when they end at a requested leaf, side by side on two threads when both
//! inputs want a big one), accumulating cotangents.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use odl_tensor::cpu::matmul::PARALLEL_MIN_FLOPS;
use odl_tensor::Array;

use crate::op::Op;
use crate::tensor::{enable_grad, is_grad_enabled, join, no_grad, Tensor};
use crate::vjp::{sum_to, vjp, Cot};

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
    let recording = is_grad_enabled();
    // 1. every node that carries gradient and is reachable from an output,
    //    in `slot` order of discovery
    let mut slot: IdMap<usize> = IdMap::with_capacity_and_hasher(64, Default::default());
    let mut nodes: Vec<Tensor> = Vec::with_capacity(64);
    let mut stack: Vec<&Tensor> = outputs.iter().map(|(y, _)| *y).filter(|y| y.requires_grad()).collect();
    while let Some(t) = stack.pop() {
        if slot.contains_key(&t.id()) {
            continue;
        }
        slot.insert(t.id(), nodes.len());
        nodes.push(t.clone());
        if let Some(op) = t.op() {
            stack.extend(op.inputs().into_iter().flatten().filter(|x| x.requires_grad()));
        }
    }
    // Ids grow with creation and an op's inputs exist before its output, so
    // ascending id order is a topological order.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_unstable_by_key(|&i| nodes[i].id());
    let inputs: Vec<[Option<usize>; 2]> = nodes
        .iter()
        .map(|t| match t.op() {
            None => [None, None],
            Some(op) => op.inputs().map(|x| x.and_then(|x| slot.get(&x.id()).copied())),
        })
        .collect();

    // 2. a node is needed if a requested tensor is it or lies below it
    let mut needed = vec![false; nodes.len()];
    let mut is_target = vec![false; nodes.len()];
    for t in wrt {
        if let Some(&i) = slot.get(&t.id()) {
            is_target[i] = true;
        }
    }
    for &i in &order {
        needed[i] = is_target[i] || inputs[i].iter().flatten().any(|&j| needed[j]);
    }

    // 3. accumulate cotangents in reverse topological order
    let mut grads: Vec<Option<Tensor>> = vec![None; nodes.len()];
    for (y, s) in outputs {
        if let Some(&i) = slot.get(&y.id()) {
            grads[i] = Some(match grads[i].take() {
                None => s.clone(),
                Some(g) => g.accumulate(s),
            });
        }
    }
    for &i in order.iter().rev() {
        if !needed[i] {
            continue;
        }
        let node = &nodes[i];
        let Some(op) = node.op() else { continue };
        let slots = inputs[i].map(|j| j.filter(|&j| needed[j]));
        if slots.iter().all(Option::is_none) {
            continue;
        }
        // a requested tensor keeps its gradient; others hand it on
        let g = if is_target[i] { grads[i].clone() } else { grads[i].take() };
        let Some(g) = g else { continue };
        // a requested leaf's gradient is returned as is: with create_graph,
        // products that end there may stay lazy
        let lazy = slots.map(|j| recording && j.is_some_and(|j| is_target[j] && nodes[j].is_leaf()));
        let cts = form(op, vjp(op, node, &g, [slots[0].is_some(), slots[1].is_some()]), lazy);
        for (ct, s) in cts.into_iter().zip(slots) {
            if let (Some(ct), Some(j)) = (ct, s) {
                grads[j] = Some(match grads[j].take() {
                    None => ct,
                    Some(acc) => acc.accumulate(&ct),
                });
            }
        }
    }

    wrt.iter()
        .map(|t| match slot.get(&t.id()).and_then(|&i| grads[i].clone()) {
            Some(g) => g,
            None => Tensor::zeros(t.shape(), t.dtype()),
        })
        .collect()
}

/// The cotangents of `op`'s inputs as tensors of the inputs' shapes: matrix
/// products formed (recorded lazily where `lazy` says so: see
/// [`Tensor::lazy_matmul`]; the two of one product side by side when both
/// are big), then broadcasting undone.
fn form(op: &Op, cts: [Option<Cot>; 2], lazy: [bool; 2]) -> [Option<Tensor>; 2] {
    let product = |c: Option<Cot>, lazy: bool| {
        c.map(|c| match c {
            Cot::Tensor(t) => t,
            Cot::MatMul(x, y, tx, ty) if lazy => Tensor::lazy_matmul(&x, &y, tx, ty),
            Cot::MatMul(x, y, tx, ty) => x.matmul_t(&y, tx, ty),
        })
    };
    let [a, b] = cts;
    // two independent products of equal cost (a matmul's VJP): big enough,
    // they run side by side
    let parallel = match (&a, &b) {
        (Some(Cot::MatMul(x, y, tx, ty)), Some(Cot::MatMul(..))) => {
            let shape = Array::matmul_shape(x.shape(), y.shape(), *tx, *ty);
            let k = if *tx { x.shape()[x.ndim() - 2] } else { x.shape()[x.ndim() - 1] };
            shape.iter().product::<usize>() * k >= PARALLEL_MIN_FLOPS
        }
        _ => false,
    };
    let (a, b) = if parallel {
        join(|| product(a, lazy[0]), || product(b, lazy[1]))
    } else {
        (product(a, lazy[0]), product(b, lazy[1]))
    };
    let inputs = op.inputs();
    [
        a.map(|t| sum_to(t, inputs[0].expect("an input for a cotangent").shape())),
        b.map(|t| sum_to(t, inputs[1].expect("an input for a cotangent").shape())),
    ]
}
