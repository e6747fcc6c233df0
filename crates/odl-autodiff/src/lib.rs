pub use odl_tensor;
