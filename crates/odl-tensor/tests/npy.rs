//! .npy/.npz round trips and validation of bad files.

use odl_tensor::npy::{read_npy, read_npz, write_npy, write_npz, NpyData, NpyError, NpyValue, Npz};
use odl_tensor::{Array, DType};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("odl-npy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A version-1 .npy file written byte by byte (header padded to 64 bytes).
fn raw_npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let fo = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape}, }}");
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((h.len() as u16).to_le_bytes());
    bytes.extend(h.as_bytes());
    bytes.extend(data);
    bytes
}

#[test]
fn npy_round_trip_f32_f64() {
    for dtype in [DType::F32, DType::F64] {
        let a = Array::from_f64(&[1.5, -2.0, 3.25, 0.0, 1e-3, 7.0], &[2, 3], dtype);
        let p = tmp(&format!("a_{dtype}.npy"));
        write_npy(&p, &NpyValue::from(&a)).unwrap();
        let back = read_npy(&p).unwrap();
        assert_eq!(back.shape.as_slice(), &[2, 3]);
        assert_eq!(back.to_array().dtype(), dtype);
        assert_eq!(back.to_array().to_vec_f64(), a.to_vec_f64());
    }
}

#[test]
fn npz_round_trip_with_labels() {
    let p = tmp("b.npz");
    let w = Array::from_f64(&[0.1, 0.2, 0.3, 0.4], &[2, 2], DType::F32);
    write_npz(&p, [("params.0.0", NpyValue::from(&w)), ("y", NpyValue::ints(vec![3, 0, 9], &[3]))]).unwrap();
    let all = read_npz(&p).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["y"].data, NpyData::I64(vec![3, 0, 9]));
    let npz = Npz::open(&p).unwrap();
    assert_eq!(npz.array("params.0.0", DType::F32, Some(&[2, 2])).unwrap().to_vec_f64(), w.to_vec_f64());
    assert_eq!(npz.indices("y", Some(10)).unwrap(), vec![3, 0, 9]);
    // validation: wrong shape, out-of-range label, missing key
    let e = npz.array("params.0.0", DType::F32, Some(&[4])).unwrap_err().to_string();
    assert!(e.contains("params.0.0") && e.contains("[2, 2]"), "{e}");
    let e = npz.indices("y", Some(5)).unwrap_err().to_string();
    assert!(e.contains("element 2 is 9"), "{e}");
    let e = npz.value("x").unwrap_err().to_string();
    assert!(e.contains("no array named 'x'") && e.contains("params.0.0, y"), "{e}");
}

#[test]
fn bad_files_are_errors_not_panics() {
    // bad magic
    let p = tmp("bad_magic.npy");
    std::fs::write(&p, b"NOTNUMPY at all").unwrap();
    let e = read_npy(&p).unwrap_err();
    assert!(matches!(e, NpyError::Format { .. }), "{e}");
    assert!(e.to_string().contains("bad_magic.npy"));

    // truncated data
    let good = tmp("good.npy");
    write_npy(&good, &NpyValue::from(&Array::from_f64(&[1.0; 100], &[10, 10], DType::F64))).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let trunc = tmp("trunc.npy");
    std::fs::write(&trunc, &bytes[..bytes.len() - 40]).unwrap();
    let e = read_npy(&trunc).unwrap_err();
    assert!(e.to_string().contains("trunc.npy"), "{e}");

    // unsupported dtype (complex128)
    let cplx = tmp("complex.npy");
    std::fs::write(&cplx, raw_npy("<c16", false, "(1,)", &[0u8; 16])).unwrap();
    let e = read_npy(&cplx).unwrap_err();
    assert!(matches!(e, NpyError::DType { .. }), "{e}");

    // a .npz that is not a zip, and a missing file
    let nz = tmp("notzip.npz");
    std::fs::write(&nz, b"PK garbage").unwrap();
    assert!(read_npz(&nz).unwrap_err().to_string().contains("notzip.npz"));
    assert!(matches!(read_npz(tmp("missing.npz")).unwrap_err(), NpyError::Io { .. }));
}

#[test]
fn fortran_order_is_read_as_c_order() {
    // the 2×3 matrix [[1,2,3],[4,5,6]] stored column-major
    let p = tmp("fortran.npy");
    let data: Vec<u8> = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&p, raw_npy("<f8", true, "(2, 3)", &data)).unwrap();
    let a = read_npy(&p).unwrap().to_array();
    assert_eq!(a.to_vec_f64(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}
