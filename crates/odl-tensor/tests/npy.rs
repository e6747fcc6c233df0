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

#[test]
fn a_flipped_byte_in_a_checkpoint_is_detected_by_its_checksum() {
    let path = tmp("crc.npz");
    let w = Array::from_vec((0..1000).map(|i| i as f32 * 0.5).collect(), &[10, 100]);
    write_npz(&path, [("param.0.weight", NpyValue::from(&w))]).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(read_npz(&path).is_ok());
    // a byte in the middle of the array's data: the npy header and the zip
    // structure stay valid, only the values change
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    let e = read_npz(&path).unwrap_err().to_string();
    assert!(e.contains("crc.npz") && e.contains("param.0.weight") && e.contains("checksum"), "{e}");
}

/// A tiny deterministic generator (the tests' own, so they need no seed crate).
fn lcg(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 33
}

#[test]
fn mutated_npy_and_npz_files_are_errors_never_panics_or_huge_allocations() {
    let w = Array::from_vec((0..64).map(|i| i as f64).collect(), &[8, 8]);
    let y = NpyValue::ints((0..8).collect(), &[8]);
    let (npy, npz) = (tmp("fuzz.npy"), tmp("fuzz.npz"));
    write_npy(&npy, &NpyValue::from(&w)).unwrap();
    write_npz(&npz, [("w", NpyValue::from(&w)), ("y", y)]).unwrap();
    let seeds = [std::fs::read(&npy).unwrap(), std::fs::read(&npz).unwrap()];
    let mut state = 7u64;
    let mut tried = 0;
    // more with ODL_FUZZ_ROUNDS (scripts/fault-soak.sh)
    let rounds: usize = std::env::var("ODL_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    for round in 0..rounds {
        let src = &seeds[round % 2];
        let mut b = src.clone();
        // flip, overwrite, insert or truncate at random places; header bytes
        // (shapes, sizes, offsets) are the interesting ones, so bias there
        for _ in 0..1 + lcg(&mut state) % 4 {
            let i = if lcg(&mut state).is_multiple_of(2) {
                (lcg(&mut state) % 128) as usize
            } else {
                lcg(&mut state) as usize
            } % b.len();
            match lcg(&mut state) % 4 {
                0 => b[i] ^= 1 << (lcg(&mut state) % 8),
                1 => b[i] = lcg(&mut state) as u8,
                2 => b.insert(i, b"9"[0]),
                _ => b.truncate(i.max(1)),
            }
        }
        let p = tmp(&format!("fuzz-{}.{}", round % 7, if round % 2 == 0 { "npy" } else { "npz" }));
        std::fs::write(&p, &b).unwrap();
        // either a value or an error: the test fails on a panic or an abort
        let _ = if round % 2 == 0 { read_npy(&p).map(|_| ()) } else { read_npz(&p).map(|_| ()) };
        tried += 1;
    }
    assert_eq!(tried, rounds);
    // a header promising 10¹² elements in a file of a few hundred bytes
    let huge = raw_npy("<f8", false, "(1000000, 1000000)", &[0u8; 16]);
    std::fs::write(&npy, huge).unwrap();
    let e = read_npy(&npy).unwrap_err().to_string();
    assert!(e.contains("needs more bytes than the file holds"), "{e}");
}

#[test]
fn npz_members_carry_a_fixed_date_so_equal_arrays_give_equal_bytes() {
    let p = tmp("dated.npz");
    let w = Array::from_f64(&[1.0, -2.0, 3.5], &[3], DType::F32);
    write_npz(&p, [("a", NpyValue::from(&w)), ("b", NpyValue::ints(vec![1, 2], &[2]))]).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    // every local file header (PK\x03\x04): modification time 00:00:00
    // (bytes 10–11) and date 1980-01-01 (bytes 12–13, day 1 | month 1 << 5)
    let headers: Vec<usize> = (0..bytes.len() - 4).filter(|&i| bytes[i..i + 4] == *b"PK\x03\x04").collect();
    assert_eq!(headers.len(), 2);
    for i in headers {
        assert_eq!(&bytes[i + 10..i + 14], &[0, 0, 0x21, 0], "header at {i}");
    }
    write_npz(&p, [("a", NpyValue::from(&w)), ("b", NpyValue::ints(vec![1, 2], &[2]))]).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
}
