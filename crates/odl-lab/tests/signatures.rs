//! Every experiment reproduces its theory signature at tiny scale: all its
//! claims hold (claims decided by wall-clock times are reported but not
//! required: they depend on the machine's load), and it writes the
//! documented `summary.json` interface.

use odl_lab::{find, resolve, run_one, Scale, Summary};

/// Runs `id` at tiny scale and checks the interface and that every claim holds.
fn signature(id: &str, metrics: &[&str]) {
    let out = std::env::temp_dir().join(format!("odl-signature-{}-{id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let e = find(id).unwrap();
    let p = resolve(e, Scale::Tiny, 0, &[]).unwrap();
    let s = run_one(e, p, Scale::Tiny, &out, &|_, _| {}).unwrap();
    assert_eq!((s.id.as_str(), s.scale), (id, Some(Scale::Tiny)));
    assert!(!s.title.is_empty() && !s.lecture.is_empty() && s.wall_s > 0.0);
    assert_eq!(s.params["seed"], odl_lab::params::Value::Int(0));
    for m in metrics {
        assert!(s.metrics.contains_key(*m), "{id}: metric {m} missing");
    }
    assert!(!s.claims.is_empty(), "{id}: no claims");
    for c in &s.claims {
        assert!(!c.statement.is_empty() && !c.prediction.is_empty() && !c.measured.is_empty(), "{id}: {c:?}");
        if c.timing {
            continue;
        }
        assert!(
            c.holds,
            "{id}: claim {} does not hold: predicted {}, measured {}",
            c.id, c.prediction, c.measured
        );
    }
    // the files it names exist, and the summary on disk is the one returned
    // every figure shows its data: each series drawn and in the legend,
    // readable axes, nothing under the legend (odl_plot::check)
    let folder = out.join(id);
    for f in &s.figures {
        let svg = std::fs::read_to_string(folder.join(&f.file)).unwrap();
        assert!(svg.starts_with("<svg") && !svg.contains("no finite data"), "{id}: empty figure {}", f.file);
        let json = std::fs::read_to_string(folder.join(f.file.replace(".svg", ".fig.json"))).unwrap();
        let fig: odl_plot::Figure = serde_json::from_str(&json).unwrap();
        let problems = odl_plot::check::check(&fig, &svg);
        assert!(problems.is_empty(), "{id}: figure {}: {problems:#?}", f.file);
        assert!(!f.caption.is_empty(), "{id}: figure {} has no caption", f.file);
    }
    let disk = Summary::load(&folder.join("summary.json")).unwrap();
    assert_eq!(disk.claims, s.claims);
    assert_eq!(disk.params, s.params);
    // passed: the folder goes (a failing test keeps it for a look)
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn alchemy_signature() {
    signature("alchemy", &["floor", "lm_final_loss", "gd_best_final_loss", "adam_best_final_loss"]);
}

#[test]
fn random_labels_signature() {
    signature("random-labels", &["train_acc", "test_acc", "epochs_to_fit", "error_decomposition"]);
}

#[test]
fn backprop_forms_signature() {
    signature("backprop-forms", &["max_rel_err", "fwd_bwd_over_fwd"]);
}

#[test]
fn shamir_depth_signature() {
    signature("shamir-depth", &["slope_ln_iters_vs_depth", "r2", "identity_init_iters", "grad_norm_at_init"]);
}

#[test]
fn explode_vanish_signature() {
    signature("explode-vanish", &["var_ratio_last_first", "trains"]);
}

#[test]
fn hanin_rolnick_signature() {
    signature("hanin-rolnick", &["fm2_slope", "fm2_r2", "fm1_slope"]);
}

#[test]
fn dynamical_isometry_signature() {
    signature("dynamical-isometry", &["var_eig_jjt", "cond", "iters_orthogonal", "iters_gaussian"]);
}

#[test]
fn batchnorm_signature() {
    signature(
        "batchnorm",
        &["loss_range_ratio", "grad_pred_ratio", "beta_smooth_ratio", "noisy_bn_final_loss_ratio"],
    );
}

#[test]
fn resnet_depth_signature() {
    signature("resnet-depth", &["final_train_loss", "slices_1d"]);
}

#[test]
fn momentum_rates_signature() {
    signature("momentum-rates", &["exponent_gd", "exponent_heavy_ball", "exponent_nesterov"]);
}

#[test]
fn adam_counterexample_signature() {
    signature(
        "adam-counterexample",
        &["adam_final_x", "amsgrad_final_x", "adam_avg_regret", "amsgrad_avg_regret"],
    );
}

#[test]
fn adaptive_generalization_signature() {
    signature("adaptive-generalization", &["test_err_adaptive", "test_err_gd"]);
}

#[test]
fn lr_schedules_signature() {
    signature("lr-schedules", &["final_loss", "peak_batch_loss_over_initial"]);
}

#[test]
fn matrix_sensing_signature() {
    signature("matrix-sensing", &["frac_global"]);
}

#[test]
fn saddle_escape_signature() {
    signature(
        "saddle-escape",
        &["escape_iters_gd", "escape_iters_pgd", "single_saddle", "degenerate_saddle"],
    );
}

#[test]
fn spurious_minima_signature() {
    signature("spurious-minima", &["bad_fraction"]);
}

#[test]
fn overparam_ntk_signature() {
    signature("overparam-ntk", &["weight_move_slope", "lambda_min", "rate"]);
}

#[test]
fn sharp_minima_signature() {
    signature("sharp-minima", &["sharpness_ratio", "dinh"]);
}

#[test]
fn loss_landscape_signature() {
    signature("loss-landscape", &["nonconvex_fraction", "trajectory_pca"]);
}

#[test]
fn deep_faster_signature() {
    signature("deep-faster", &["speedup_l4", "speedup_l2", "end_to_end_max_rel_deviation"]);
}

#[test]
fn edge_of_stability_signature() {
    signature("edge-of-stability", &["sharpness_over_2_by_eta"]);
}

#[test]
fn dirac_gan_signature() {
    signature(
        "dirac-gan",
        &["jacobian_eigenvalue_error", "rate_gan_simultaneous", "predicted_rate_r1", "rate_consensus"],
    );
}

#[test]
fn bilinear_games_signature() {
    signature(
        "bilinear-games",
        &["rate_simultaneous", "predicted_rate_optimistic", "rate_sga", "jacobian_eigenvalue_error"],
    );
}

#[test]
fn f_divergences_signature() {
    signature(
        "f-divergences",
        &["true_kl", "sup_pearson_chi2", "max_bound_above_truth", "worst_relative_gap_tight"],
    );
}

#[test]
fn gan_theory_signature() {
    signature(
        "gan-theory",
        &["discriminator_max_error", "value_at_trained_d", "minus_log4_plus_2jsd", "grad_minimax"],
    );
}

#[test]
fn gan_metrics_signature() {
    signature(
        "gan-metrics",
        &[
            "feature_net_test_acc",
            "fid_noise",
            "kid_blur",
            "fid_real_vs_real_by_size",
            "kid_real_vs_real_by_size",
        ],
    );
}

#[test]
fn spectral_normalization_signature() {
    signature(
        "spectral-normalization",
        &[
            "worst_relative_error_after_warmup",
            "lipschitz_bound_sn",
            "lipschitz_bound_plain_growth",
            "max_input_gradient_sn",
        ],
    );
}

#[test]
fn mode_collapse_signature() {
    signature(
        "mode-collapse",
        &["final_modes_plain", "mean_final_modes_r1", "final_modes_wgan_gp", "generator_sigma_max_final"],
    );
}

#[test]
fn adversarial_examples_signature() {
    signature(
        "adversarial-examples",
        &[
            "clean_accuracy",
            "fgsm_accuracy",
            "pgd_accuracy",
            "linear_l1_pixel_units",
            "linear_worst_relative_deviation",
        ],
    );
}

#[test]
fn gradient_masking_signature() {
    signature(
        "gradient-masking",
        &[
            "robust_pgd",
            "robust_pgd_masked",
            "robust_apgd_dlr_masked",
            "robust_ensemble_masked",
            "median_gradient_ratio_masked",
        ],
    );
}

#[test]
fn certified_defenses_signature() {
    signature(
        "certified-defenses",
        &[
            "standard_ibp_certified",
            "standard_crown_certified",
            "ibp_trained_ibp_certified",
            "ibp_trained_pgd_accuracy",
            "smoothing_worst_gap_within_2sigma",
            "lipschitz_median_ratio_to_exact",
        ],
    );
}

#[test]
fn poisoning_signature() {
    signature(
        "poisoning",
        &[
            "test_error_random_flips",
            "test_error_greedy_flips",
            "backdoor_success",
            "backdoor_clean_accuracy",
            "influence_test_error",
            "influence_test_loss",
        ],
    );
}

#[test]
fn adversarial_training_signature() {
    signature(
        "adversarial-training",
        &[
            "clean_accuracy",
            "pgd_accuracy",
            "co_steps",
            "co_fgsm_accuracy_0",
            "co_pgd_accuracy_0",
            "co_pgd_accuracy_1",
        ],
    );
}
