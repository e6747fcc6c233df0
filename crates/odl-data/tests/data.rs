//! Data: IDX parsing and validation, Fashion-MNIST from the Debian package,
//! the MNIST-1D-style generator, synthetic sets, corruption and batching.

use std::io::Write;

use odl_data::mnist1d::templates;
use odl_data::synthetic::{
    gaussian_mixture, linearly_separable, low_rank_completion, low_rank_sensing, spirals, two_moons,
};
use odl_data::{
    fashion_mnist, fashion_mnist_subset, mnist1d, read_idx, Dataset, IdxError, Mnist1dConfig, SUBSET_TEST,
    SUBSET_TRAIN,
};
use odl_tensor::{Array, DType};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("odl-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(data);
    b
}

#[test]
fn idx_plain_and_gzipped_and_bad_files() {
    let data: Vec<u8> = (0..24).collect();
    let p = tmp("a.idx");
    std::fs::write(&p, idx_bytes(&[2, 3, 4], &data)).unwrap();
    assert_eq!(read_idx(&p).unwrap(), (vec![2, 3, 4], data.clone()));
    let gz = tmp("a.idx.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&idx_bytes(&[2, 3, 4], &data)).unwrap();
    enc.finish().unwrap();
    assert_eq!(read_idx(&gz).unwrap().1, data);
    for (name, bytes, needle) in [
        ("magic.idx", vec![1, 2, 8, 1, 0, 0, 0, 1, 5], "bad magic"),
        ("type.idx", vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0], "element type 0x0d"),
        ("trunc.idx", idx_bytes(&[10], &[1, 2, 3]), "3 data bytes"),
        ("hdr.idx", vec![0, 0, 8, 3, 0, 0], "truncated"),
    ] {
        let p = tmp(name);
        std::fs::write(&p, bytes).unwrap();
        let e = read_idx(&p).unwrap_err();
        assert!(
            matches!(e, IdxError::Format { .. })
                && e.to_string().contains(needle)
                && e.to_string().contains(name),
            "{e}"
        );
    }
    assert!(matches!(read_idx(tmp("missing.idx")).unwrap_err(), IdxError::Io { .. }));
}

#[test]
fn fashion_mnist_from_the_debian_package() {
    // a missing package is an error that says how to get it
    let missing = fashion_mnist(Some(&tmp("no-such-dir"))).unwrap_err().to_string();
    assert!(missing.contains("dataset-fashion-mnist"), "{missing}");
    // CI installs dataset-fashion-mnist (.ci/run); elsewhere this part is skipped, loudly
    let Ok((train, test)) = fashion_mnist(None) else {
        eprintln!(
            "skipped: Debian's dataset-fashion-mnist is not installed (the shipped subset is tested below)"
        );
        return;
    };
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.x.shape(), &[60_000, 784]);
    let v = test.x.to_vec_f32();
    assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
    // balanced classes: 6000 per class in train
    let mut counts = [0usize; 10];
    train.labels().iter().for_each(|&l| counts[l] += 1);
    assert!(counts.iter().all(|&c| c == 6000), "{counts:?}");
    // mean pixel intensity of Fashion-MNIST is about 0.286
    let mean = v.iter().map(|&p| p as f64).sum::<f64>() / v.len() as f64;
    assert!((mean - 0.286).abs() < 0.01, "{mean}");
    // the shipped subset is exactly the first examples of each file
    let (sub_train, sub_test) = fashion_mnist_subset();
    let head = |d: &Dataset, n: usize| d.subset(&(0..n).collect::<Vec<_>>());
    for (sub, full) in [(&sub_train, &train), (&sub_test, &test)] {
        let h = head(full, sub.len());
        assert_eq!(sub.x.to_vec_f32(), h.x.to_vec_f32());
        assert_eq!(sub.labels(), h.labels());
    }
}

#[test]
fn the_shipped_fashion_mnist_subset_needs_no_package() {
    let (train, test) = fashion_mnist_subset();
    assert_eq!((train.len(), test.len()), (SUBSET_TRAIN, SUBSET_TEST));
    assert_eq!(train.x.shape(), &[SUBSET_TRAIN, 784]);
    assert_eq!(train.x.dtype(), odl_tensor::DType::F32);
    for d in [&train, &test] {
        let v = d.x.to_vec_f32();
        assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
        // about as bright as the whole data set (0.286), classes within ±10 % of balance
        let mean = v.iter().map(|&p| p as f64).sum::<f64>() / v.len() as f64;
        assert!((mean - 0.286).abs() < 0.01, "{mean}");
        let mut counts = [0usize; 10];
        d.labels().iter().for_each(|&l| counts[l] += 1);
        assert!(
            counts.iter().all(|&c| (c as f64 - d.len() as f64 / 10.0).abs() < d.len() as f64 / 100.0),
            "{counts:?}"
        );
    }
}

#[test]
fn mnist1d_is_seeded_balanced_and_class_dependent() {
    let cfg = Mnist1dConfig { n: 2000, ..Default::default() };
    let a = mnist1d(&cfg);
    let b = mnist1d(&cfg);
    assert_eq!(a.x.shape(), &[2000, 40]);
    assert_eq!(a.x.to_vec_f64(), b.x.to_vec_f64());
    let c = mnist1d(&Mnist1dConfig { seed: 1, ..cfg.clone() });
    assert_ne!(a.x.to_vec_f64(), c.x.to_vec_f64());
    let mut counts = [0usize; 10];
    a.labels().iter().for_each(|&l| counts[l] += 1);
    assert!(counts.iter().all(|&k| (140..=260).contains(&k)), "{counts:?}");
    // with no noise and no transforms, examples are exactly the templates,
    // resampled: distinct classes give distinct sequences
    let clean = mnist1d(&Mnist1dConfig {
        n: 200,
        amplitude: 1.0,
        padding: (0, 0),
        scale: 0.0,
        shear: 0.0,
        corr_noise: 0.0,
        iid_noise: 0.0,
        length: 12,
        seed: 3,
    });
    let xv = clean.x.to_vec_f64();
    for (i, &l) in clean.labels().iter().enumerate() {
        for j in 0..12 {
            assert!((xv[i * 12 + j] - templates()[l][j]).abs() < 1e-6);
        }
    }
}

#[test]
fn synthetic_sets_have_their_structure() {
    let (d, w) = linearly_separable(500, 5, 0.3, 1);
    let xv = d.x.to_vec_f64();
    for (i, &l) in d.labels().iter().enumerate() {
        let s: f64 = (0..5).map(|j| xv[i * 5 + j] * w[j]).sum();
        assert!(s.abs() >= 0.3 && (s > 0.0) == (l == 1));
    }
    let g = gaussian_mixture(300, 3, 4, 5.0, 0.1, 2);
    assert_eq!((g.x.shape(), g.classes()), (&[300usize, 4][..], 3));
    let m = two_moons(100, 0.0, 3);
    assert_eq!(m.labels().iter().filter(|&&l| l == 1).count(), 50);
    // noise-free moon 0 lies on the unit circle
    let mv = m.x.to_vec_f64();
    for (i, &l) in m.labels().iter().enumerate() {
        if l == 0 {
            assert!(((mv[2 * i].powi(2) + mv[2 * i + 1].powi(2)).sqrt() - 1.0).abs() < 1e-12);
        }
    }
    assert_eq!(spirals(90, 3, 0.01, 4).classes(), 3);
    let s = low_rank_sensing(6, 5, 2, 30, 5);
    assert_eq!((s.a.shape(), s.y.shape()), (&[30usize, 6, 5][..], &[30usize][..]));
    // rank 2: the third singular value of M* vanishes
    let sv = faer_free_rank(&s.m_star);
    assert!(sv < 1e-10, "{sv}");
    let (mc, obs) = low_rank_completion(10, 10, 1, 0.5, 6);
    assert_eq!(mc.shape(), &[10, 10]);
    assert!(obs.len() > 30 && obs.len() < 70);
}

/// The residual of the best rank-2 fit of a small matrix via Gram–Schmidt on
/// its columns: tiny when the rank is ≤ 2.
fn faer_free_rank(m: &Array) -> f64 {
    let (r, c) = (m.shape()[0], m.shape()[1]);
    let v = m.to_vec_f64();
    let cols: Vec<Vec<f64>> = (0..c).map(|j| (0..r).map(|i| v[i * c + j]).collect()).collect();
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut residual: f64 = 0.0;
    for col in cols {
        let mut x = col.clone();
        for b in &basis {
            let p: f64 = b.iter().zip(&x).map(|(a, y)| a * y).sum();
            x.iter_mut().zip(b).for_each(|(y, a)| *y -= p * a);
        }
        let n = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        if basis.len() < 2 && n > 1e-9 {
            basis.push(x.iter().map(|a| a / n).collect());
        } else {
            residual = residual.max(n);
        }
    }
    residual
}

#[test]
fn corruption_splits_batches_and_normalization() {
    let mut d = gaussian_mixture(1000, 10, 3, 3.0, 0.5, 7);
    let orig = d.labels().to_vec();
    let changed = d.corrupt_labels(0.5, 1);
    // half are redrawn; a redraw keeps its label with probability 1/10
    assert!((400..=500).contains(&changed), "{changed}");
    let differs = d.labels().iter().zip(&orig).filter(|(a, b)| a != b).count();
    assert_eq!(differs, changed);
    // shuffled pixels: one permutation for all rows
    let mut e = gaussian_mixture(5, 2, 4, 1.0, 1.0, 8);
    let before = e.x.to_vec_f64();
    e.shuffle_pixels(3);
    let after = e.x.to_vec_f64();
    let mut sb: Vec<f64> = before[..4].to_vec();
    let mut sa: Vec<f64> = after[..4].to_vec();
    sb.sort_by(f64::total_cmp);
    sa.sort_by(f64::total_cmp);
    assert_eq!(sa, sb);
    // batches cover every example once, same seed same order
    let ids: Vec<usize> = d.batches(64, 5).flat_map(|b| b.index).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    let again: Vec<usize> = d.batches(64, 5).flat_map(|b| b.index).collect();
    assert_eq!(ids, again);
    // normalization
    let (m, s) = d.normalize();
    assert!(s > 0.0 && m.is_finite());
    let v = d.x.to_vec_f64();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean.abs() < 1e-12);
    // npz data sets: validated
    let p = tmp("set.npz");
    odl_tensor::npy::write_npz(
        &p,
        [
            ("x", odl_tensor::npy::NpyValue::from(&Array::zeros(&[3, 2], DType::F32))),
            ("y", odl_tensor::npy::NpyValue::ints(vec![0, 2, 1], &[3])),
        ],
    )
    .unwrap();
    let ds = Dataset::from_npz(&p, "x", "y").unwrap();
    assert_eq!((ds.len(), ds.classes()), (3, 3));
    let err = Dataset::from_npz(&p, "x", "z").unwrap_err().to_string();
    assert!(err.contains("no array named 'z'"), "{err}");
}

#[test]
fn mutated_idx_files_are_errors_never_panics() {
    use std::io::Write;
    // a valid gzipped IDX file of 20 images 4×4
    let mut raw = vec![0u8, 0, 8, 3, 0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 4];
    raw.extend((0..320).map(|i| i as u8));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let seeds = [raw, gz.finish().unwrap()];
    let mut state = 11u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let rounds: usize = std::env::var("ODL_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    for round in 0..rounds {
        let mut b = seeds[round % 2].clone();
        for _ in 0..1 + next() % 3 {
            let i = (if next().is_multiple_of(2) { next() % 24 } else { next() }) as usize % b.len();
            match next() % 3 {
                0 => b[i] ^= 1 << (next() % 8),
                1 => b[i] = next() as u8,
                _ => b.truncate(i.max(1)),
            }
        }
        let p = tmp(&format!("fuzz-{}.idx", round % 5));
        std::fs::write(&p, &b).unwrap();
        let _ = read_idx(&p);
    }
    // a header whose dimensions multiply past usize
    let p = tmp("overflow.idx");
    std::fs::write(
        &p,
        [0u8, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255],
    )
    .unwrap();
    assert!(read_idx(&p).unwrap_err().to_string().contains("overflow"));
}
