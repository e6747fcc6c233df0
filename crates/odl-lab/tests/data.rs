//! The lab's data on every machine: tiny and quick scales draw from the
//! Fashion-MNIST subset odl ships whether or not Debian's package is
//! installed; full scale reads the package, falls back to the subset when
//! it holds enough examples (with a note), and otherwise stops with a
//! message naming the package.

use std::path::Path;

use odl_lab::data::{LabData, Source};
use odl_lab::Scale;

/// The message of a draw that must fail.
fn error_of(r: anyhow::Result<LabData>) -> String {
    match r {
        Ok(_) => panic!("the draw should have failed"),
        Err(e) => e.to_string(),
    }
}

/// Where nothing is installed.
fn hidden() -> &'static Path {
    Path::new("/nonexistent-odl-fashion-mnist")
}

#[test]
fn quick_scale_uses_the_shipped_subset_everywhere() {
    let a = LabData::draw(Scale::Quick, 2000, 500, 7, Some(hidden())).unwrap();
    assert_eq!(a.source, Source::Subset);
    assert!(a.note.is_none() && a.description.contains("subset odl ships"));
    assert_eq!((a.train.len(), a.test.len(), a.d, a.classes), (2000, 500, 784, 10));
    // the draw does not depend on where the package would be
    let b = LabData::draw(Scale::Quick, 2000, 500, 7, None).unwrap();
    assert_eq!(a.train.x.to_vec_f32(), b.train.x.to_vec_f32());
    assert_eq!(a.test.labels(), b.test.labels());
    // normalized with the training set's statistics
    let v = a.train.x.to_vec_f64();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean.abs() < 1e-4, "{mean}");
    // another seed, other examples
    let c = LabData::draw(Scale::Quick, 2000, 500, 8, None).unwrap();
    assert_ne!(a.train.labels(), c.train.labels());
}

#[test]
fn full_scale_without_the_package_falls_back_or_says_how_to_get_it() {
    let d = LabData::draw(Scale::Full, 1000, 200, 0, Some(hidden())).unwrap();
    assert_eq!(d.source, Source::Subset);
    assert!(d.note.as_deref().is_some_and(|n| n.contains("dataset-fashion-mnist")), "{:?}", d.note);
    let e = LabData::draw(Scale::Full, 20_000, 200, 0, Some(hidden()))
        .err()
        .expect("too many examples")
        .to_string();
    assert!(e.contains("apt-get install dataset-fashion-mnist") && e.contains("n_train"), "{e}");
    let e = error_of(LabData::draw(Scale::Quick, 20_000, 200, 0, None));
    assert!(e.contains("--scale full"), "{e}");
}

#[test]
fn full_scale_reads_debians_package_when_it_is_installed() {
    let Ok(d) = LabData::draw(Scale::Full, 1000, 200, 0, None) else { unreachable!("falls back at worst") };
    if odl_data::fashion_mnist(None).is_err() {
        eprintln!("skipped: Debian's dataset-fashion-mnist is not installed");
        assert_eq!(d.source, Source::Subset);
        return;
    }
    assert_eq!(d.source, Source::Full);
    assert!(d.note.is_none() && d.description.contains("whole data set"));
}
