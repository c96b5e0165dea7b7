/*
 * The per-event systematics kernel (HIGGSML.md §4, steps 1-6): the one
 * implementation of how tes, jes, soft_met, rounding and the post-selection
 * change an event, and of the DER features recomputed from the result.
 * hbx_systematics_apply() (SDK) and the pseudo-experiment generator
 * (libhiggsbox, pe.h) both call hbx_syst_batch(), and hbx_derive_event() /
 * hbx_derive_columns() evaluate the DER formulas with the same lane code, so
 * a shift service call, a PE and a plain DER recomputation of the shifted
 * PRI give the same bits. Weights are scaled by the caller (step 7).
 *
 * The work splits in two:
 *   hbx_syst_prepare()  once per source event: everything that does not
 *                       depend on the nuisances (the features the
 *                       systematics never change, as rounded thousandths,
 *                       and the DER terms built from them alone), packed
 *                       in one 64-byte cache line;
 *   hbx_syst_batch()    per shifted event: multiply-adds, table look-ups
 *                       of cosines and sines, one square root and a
 *                       polynomial arctangent for the MET, roundings, the
 *                       jet removal, then the DER formulas (square roots,
 *                       two divisions), evaluated 2, 4 or 8 events at a
 *                       time in SIMD lanes (SSE2, AVX2, AVX-512).
 *
 * Shared by libhiggsbox and the SDK library; not part of the plugin ABI.
 * docs/SYSTEMATICS.md states every rule with a worked example.
 */
#ifndef HIGGSBOX_SYSTEMATICS_KERNEL_H
#define HIGGSBOX_SYSTEMATICS_KERNEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "higgsbox/physics.h"
#include "higgsbox/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thresholds of the post-selection (GeV). */
#define HBX_CUT_HAD_PT 26.0f /* events with had_pt below are dropped */
#define HBX_CUT_JET_PT 26.0f /* jets with 0 <= pt <= this are removed */
#define HBX_CUT_LEP_PT 20.0f /* events with lep_pt below are dropped */

#define HBX_N_DER (HBX_N_FEATURES - HBX_N_PRIMARY)

/* ---------------------------------------------------------------------------
 * Rounding to 3 decimals
 */

/* x rounded to 3 decimals as numpy.round does (half to even on x * 1000),
 * computed in double and returned as float. The add-and-subtract of 1.5 *
 * 2^52 rounds to an integer in the current (nearest-even) mode without a
 * libm call; it is exact for |x * 1000| < 2^51, far beyond any physical
 * value. Zero comes out as +0.
 *
 * numpy then divides by 1000. For integers |k| <= 2^25 (values up to 33554)
 * (float)(k * 0.001) equals (float)(k / 1000.0) -- checked exhaustively by
 * tests/test_systematics.c -- and a multiply costs a fraction of a divide,
 * which matters at several roundings per event. */
static inline float hbx_thousandths(double k)
{
    return (float)(fabs(k) <= 0x1p25 ? k * 0.001 : k / 1000.0);
}

/* The integer k of hbx_round3(x), as a double. */
static inline double hbx_round3_k(double x)
{
    double y = x * 1000.0;
    return fabs(y) < 0x1p51 ? (y + 0x1.8p52) - 0x1.8p52 : y;
}

static inline float hbx_round3(double x)
{
    return hbx_thousandths(hbx_round3_k(x));
}

/* ---------------------------------------------------------------------------
 * Azimuths at 3 decimals: cosine and sine from a table
 *
 * Every azimuth the kernel meets is a whole number of milliradians in
 * [-3142, 3142] (stored data, and met_phi after its rounding), so their
 * cosines and sines are looked up rather than computed. The table holds
 * libm's sincos of exactly those float values, so a look-up and a call give
 * the same bits; anything else (an azimuth outside the range, or not at 3
 * decimals) is computed by sincos.
 */
#define HBX_TRIG_MAX 3142

typedef struct hbx_cs {
    double c, s;
} hbx_cs;

extern hbx_cs hbx_trig_table[2 * HBX_TRIG_MAX + 1];

/* Builds the table. Runs when the library is loaded; calling it again is
 * harmless (thread-safe, idempotent). */
void hbx_physics_init(void);

/* cos and sin of hbx_thousandths(k) by sincos (the table's own values). */
hbx_cs hbx_trig_compute(double k);

/* cos and sin of the azimuth hbx_thousandths(k), k a whole number. */
static inline hbx_cs hbx_trig_k(double k)
{
    if (fabs(k) <= HBX_TRIG_MAX)
        return hbx_trig_table[(int)k + HBX_TRIG_MAX];
    return hbx_trig_compute(k);
}

/* cos and sin of any azimuth given as a float. */
hbx_cs hbx_trig_of(float phi);

/* ---------------------------------------------------------------------------
 * The DER formulas (HIGGSML.md §3), split by what moves under systematics
 *
 * For massless objects the invariant masses factorise:
 *   m_vis² = had_pt · lep_pt · (4 sinh²(Δη/2) + |u_lep − u_had|²)
 *   m_jj²  = pt_1 · pt_2 · (4 sinh²(Δη/2) + |u_1 − u_2|²)
 * (u = (cos φ, sin φ); the bracket is 2 (cosh Δη − cos Δφ) written without
 * cancellation). The brackets, ΔR and the η centrality depend only on
 * features the systematics never change: hbx_der_fixed holds them, computed
 * once per pool event by hbx_syst_prepare() and per event by the generic
 * hbx_derive_event(), each by hbx_der_fixed_of(). Everything else is
 * evaluated per shifted event by hbx_der_lanes().
 */
/* Kept as float32 (relative error 6e-8, far below the outputs' float32
 * rounding), in every path alike. */
typedef struct hbx_der_fixed {
    float vis;    /* m_vis² / had_pt (GeV) */
    float jj;     /* m_jj² / (pt_1 pt_2), when n_jets >= 2 (else 0) */
    float lep_eta_centrality; /* the output value, -25 when n_jets < 2 */
    float deltar; /* DER_deltar_had_lep, the output value */
} hbx_der_fixed;

/* The fixed terms of an event from its PRI features (jets as n_jets says). */
void hbx_der_fixed_of(const float pri[HBX_N_PRIMARY], hbx_der_fixed *fx);

/* Everything the DER formulas need of an event besides its PRI values: which
 * jets exist, the azimuths' cosines and sines (an absent jet's are those of
 * 0), the fixed terms. */
typedef struct hbx_der_terms {
    int has1, has2; /* n_jets >= 1, n_jets >= 2 */
    hbx_cs lep, had, met, j1, j2;
    hbx_der_fixed fx;
} hbx_der_terms;

/* ---------------------------------------------------------------------------
 * Prepared events
 */

/* Indices into hbx_syst_event.milli: features the systematics never change
 * (and met_phi, whose nominal value makes the MET vector), stored rounded
 * to 3 decimals as integer thousandths. */
enum {
    HBX_MILLI_LEP_ETA,
    HBX_MILLI_LEP_PHI,
    HBX_MILLI_HAD_ETA,
    HBX_MILLI_HAD_PHI,
    HBX_MILLI_JET1_ETA,
    HBX_MILLI_JET1_PHI,
    HBX_MILLI_JET2_ETA,
    HBX_MILLI_JET2_PHI,
    HBX_MILLI_MET_PHI,
    HBX_N_MILLI
};

/* Largest |value| a milli field can hold (int16 thousandths): pseudorapidity
 * and azimuth (and the -25 placeholder) are far inside it. */
#define HBX_MILLI_MAX 32.767

/* One source event, prepared. 64 bytes: one cache line per event read. */
typedef struct hbx_syst_event {
    float had_pt, jet1_pt, jet2_pt, jet_all_pt; /* as given: the scales act on them */
    float met;                                  /* as given */
    float lep_pt;                               /* rounded to 3 decimals (never changed) */
    hbx_der_fixed der;                          /* of the event as prepared (its n_jets) */
    int16_t milli[HBX_N_MILLI];
    uint8_t n_jets;
    uint8_t process; /* free for the caller (the PE pool keeps hbx_process) */
    uint8_t flags;   /* HBX_EV_* */
    uint8_t spare[3];
} hbx_syst_event;

/* hbx_syst_event.flags: an azimuth the kernel looks up (lepton, tau, MET,
 * existing jets) lies outside the table's [-3142, 3142] thousandths. */
#define HBX_EV_WIDE_ANGLE 1u

_Static_assert(sizeof(hbx_syst_event) == 64, "hbx_syst_event must fill one cache line");

/* Value of a milli field: the same expression as hbx_round3's last step, so
 * an unchanged feature comes out bit-identical to re-rounding it. */
static inline float hbx_milli_value(int16_t k)
{
    return hbx_thousandths((double)k);
}

/* The nuisances as the kernel uses them. */
typedef struct hbx_syst_params {
    double tes, jes;       /* scale factors */
    double tes_m1, jes_m1; /* tes - 1, jes - 1 */
    double soft_met;       /* sigma of the soft term, GeV; 0 = none */
    int post_selection;
} hbx_syst_params;

/* What happened to one event, step by step (for `higgsbox shift --show` and
 * the worked example of docs/SYSTEMATICS.md). */
typedef struct hbx_syst_trace {
    double had_pt, jet1_pt, jet2_pt, jet_all_pt; /* after tes/jes, unrounded */
    double had_px, had_py, jet_px, jet_py;       /* prepared vectors (original) */
    double met_x0, met_y0;                       /* nominal MET vector */
    double met_x_tes, met_y_tes;                 /* after step 1 */
    double met_x_jes, met_y_jes;                 /* after step 2 */
    double soft_x, soft_y;                       /* step 3 noise (GeV) */
    double met_x, met_y;                         /* after step 3 */
    double met, met_phi;                         /* step 4, before rounding */
    float rounded[HBX_N_PRIMARY];                /* step 4 result */
    int dropped_had, removed_jet2, removed_jet1, dropped_lep; /* step 5 */
} hbx_syst_trace;

/* Fills the kernel parameters from nuisances (no validation: see
 * hbx_nuisances_check). */
void hbx_syst_params_init(hbx_syst_params *p, const hbx_nuisances *nu);

/* 0 when the nuisances are usable: all finite, tes > 0, jes > 0,
 * soft_met >= 0, the three scales >= 0, reserved == 0. -1 otherwise. */
int hbx_nuisances_check(const hbx_nuisances *nu);

/* Prepares one event from its 16 PRI features. Returns 0, or -1 when the
 * event cannot be represented: a non-finite value, an eta/phi beyond
 * +-32.767, or n_jets not a whole number in [0, 255]. */
int hbx_syst_prepare(const float pri[HBX_N_PRIMARY], hbx_syst_event *ev);

/* The soft-MET noise of row `row` of a shift with seed `seed`: the first two
 * normal deviates of stream (hbx_rng_key(seed, HBX_RNG_PURPOSE_SHIFT), row). */
#define HBX_RNG_PURPOSE_SHIFT 1u

/* The post-selection's event cuts (had_pt after tes, lep_pt): 0 when the
 * event is dropped. hbx_syst_batch does not drop events: its callers apply
 * this test first, and so skip drawing noise for events that go.
 *
 * hbx_round3(x) >= 26 exactly when k = rint(x * 1000) >= 26000, that is
 * (ties to even) when x * 1000 >= 25999.5: the same test without the
 * rounding. Bitwise, not short-circuit: no branch for callers that compact. */
static inline int hbx_syst_passes_event_cuts(const hbx_syst_event *e, const hbx_syst_params *p)
{
    _Static_assert(HBX_CUT_HAD_PT == 26.0f, "the threshold below is 1000 * HBX_CUT_HAD_PT - 0.5");
    return (p->post_selection == 0) | (((double)e->had_pt * p->tes * 1000.0 >= 25999.5) &
                                       (e->lep_pt >= HBX_CUT_LEP_PT));
}

/*
 * Shifts n prepared events (steps 1-4, the jet removal of step 5) and
 * recomputes their DER features (step 6): event *ev[i] gets the soft-MET
 * deviates gx[i], gy[i] (not read when p->soft_met == 0; may then be NULL)
 * and its 28 features go to out[f][at + i]. n <= HBX_SYST_BATCH and
 * at <= HBX_SYST_ROW - HBX_SYST_BATCH - 8: the last lanes of a row may be
 * written over with spare results. The event cuts of step 5 are the
 * caller's (hbx_syst_passes_event_cuts). When `trace` is not NULL it
 * receives the steps of event 0.
 *
 * `ov` (may be NULL): the caller's memory reads that the batch issues a few
 * at a time while it computes, so that the two overlap.
 *
 * Arithmetic is double throughout; each feature is rounded to float once.
 * Order of the MET update (it fixes the last bits):
 *   m = met - (tes - 1) * had_pxy;  m = m - (jes - 1) * jets_pxy;
 *   m = m + soft_met * g.
 * The work is done 2, 4 or 8 events at a time (hbx_kernel_width): the same
 * IEEE operations in every lane, so the results do not depend on the
 * width.
 */
#define HBX_SYST_BATCH 256 /* most events per call */
#define HBX_SYST_BLOCK 32  /* events per pass of the kernel (see the lanes) */
#define HBX_SYST_ROW 320   /* floats per output row: a batch, an offset and spare lanes */

/* Memory reads to interleave with a batch: random reads of DRAM that would
 * stall the core if issued in a burst. The batch prefetches a share of them
 * into L2 after every few events and all of them before it returns. */
typedef struct hbx_syst_overlap {
    const void *const *prefetch; /* e.g. the next batch's prepared events */
    uint32_t n_prefetch;
} hbx_syst_overlap;

void hbx_syst_batch(const hbx_syst_event *const *ev, const double *gx, const double *gy,
                    uint32_t n, const hbx_syst_params *p, float (*out)[HBX_SYST_ROW], uint32_t at,
                    hbx_syst_trace *trace, const hbx_syst_overlap *ov);

/* The instruction sets the SIMD lanes below are compiled for. The AVX2
 * and AVX-512 variants need GCC's `#pragma GCC target`. */
#define HBX_LANES_SSE2 1
#define HBX_LANES_AVX2 2
#define HBX_LANES_AVX512 3
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HBX_HAVE_AVX2_LANES 1
#else
#define HBX_HAVE_AVX2_LANES 0
#endif

/* Which lane width hbx_syst_batch uses: 8 (AVX-512) or 4 (AVX2) when the
 * CPU has it, else 2 (SSE2); hbx_derive_columns uses at most 4.
 * hbx_kernel_force_width(w) selects width w if the CPU runs it (the tests
 * compare them all); returns the width now in use. */
int hbx_kernel_width(void);
int hbx_kernel_force_width(int width);

/* hbx_systematics_apply() for a part of a larger dataset: row i of `in` gets
 * the soft-MET noise of row first_row + i. Applying a dataset piecewise with
 * the right offsets gives exactly the events of one whole call. */
int hbx_systematics_apply_from(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                               uint64_t first_row, hbx_table *out);

/* Shifts one event as hbx_systematics_apply would as row `row` (all 28
 * features to out[], DER recomputed), recording each step in *trace.
 * Returns 1 kept, 0 dropped by the post-selection, -1 bad event or
 * nuisances. */
int hbx_systematics_trace(const float pri[HBX_N_PRIMARY], const hbx_nuisances *nu, uint64_t seed,
                          uint64_t row, float out[HBX_N_FEATURES], hbx_syst_trace *trace);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_SYSTEMATICS_KERNEL_H */

/* ===========================================================================
 * SIMD lanes, for the implementation files only.
 *
 * The code below is written once and compiled once per instruction set:
 * derived.c and systematics.c include this header again with HBX_LANES
 * defined as HBX_LANES_SSE2 (2 doubles per vector, every x86-64) and, under
 * `#pragma GCC target`, as HBX_LANES_AVX2 (4 doubles) and HBX_LANES_AVX512
 * (8 doubles, systematics.c only), and pick the widest the CPU runs. Every
 * name gets the set's suffix through HBX_L().
 *
 * Each lane does exactly the IEEE operations a scalar evaluation would: no
 * fused multiply-add is enabled (neither set includes FMA, and ISO C mode
 * does not contract expressions), so results do not depend on the width.
 */
#if defined(HBX_LANES)

#if HBX_LANES == HBX_LANES_AVX512
#define HBX_W 8
#define HBX_L(name) name##_avx512
#elif HBX_LANES == HBX_LANES_AVX2
#define HBX_W 4
#define HBX_L(name) name##_avx2
#elif HBX_LANES == HBX_LANES_SSE2
#define HBX_W 2
#define HBX_L(name) name##_sse2
#else
#error "HBX_LANES: unknown instruction set"
#endif

typedef double HBX_L(vd) __attribute__((vector_size(8 * HBX_W)));
typedef int64_t HBX_L(vm) __attribute__((vector_size(8 * HBX_W))); /* masks: 0 or -1 */
typedef float HBX_L(vf) __attribute__((vector_size(4 * HBX_W)));
typedef int32_t HBX_L(vi) __attribute__((vector_size(4 * HBX_W)));
#define vd HBX_L(vd)
#define vm HBX_L(vm)
#define vf HBX_L(vf)
#define vi HBX_L(vi)

/* All lanes from one expression of the lane index L. */
#if HBX_W == 8
#define HBX_LANEWISE(T, EXPR)                                                                    \
    ((T){EXPR(0), EXPR(1), EXPR(2), EXPR(3), EXPR(4), EXPR(5), EXPR(6), EXPR(7)})
#elif HBX_W == 4
#define HBX_LANEWISE(T, EXPR) ((T){EXPR(0), EXPR(1), EXPR(2), EXPR(3)})
#else
#define HBX_LANEWISE(T, EXPR) ((T){EXPR(0), EXPR(1)})
#endif

static inline vd HBX_L(vdup)(double x)
{
#if HBX_W == 8
    return (vd){x, x, x, x, x, x, x, x};
#elif HBX_W == 4
    return (vd){x, x, x, x};
#else
    return (vd){x, x};
#endif
}

static inline vd HBX_L(vsqrt)(vd x)
{
#if HBX_W == 8
    return (vd)_mm512_sqrt_pd((__m512d)x);
#elif HBX_W == 4
    return (vd)_mm256_sqrt_pd((__m256d)x);
#elif defined(__SSE2__)
    return (vd)_mm_sqrt_pd((__m128d)x);
#else
    vd r;
    for (int l = 0; l < HBX_W; l++)
        r[l] = sqrt(x[l]);
    return r;
#endif
}

/* Bit i set when lane i of m is set. */
static inline int HBX_L(vbits)(vm m)
{
#if HBX_W == 8
    return _mm512_movepi64_mask((__m512i)m);
#elif HBX_W == 4
    return _mm256_movemask_pd((__m256d)m);
#elif defined(__SSE2__)
    return _mm_movemask_pd((__m128d)m);
#else
    int b = 0;
    for (int l = 0; l < HBX_W; l++)
        b |= (m[l] != 0) << l;
    return b;
#endif
}

/* m ? a : b, lane by lane (m from a comparison: all ones or zeros). */
static inline vd HBX_L(vsel)(vm m, vd a, vd b)
{
#if HBX_W == 8
    return (vd)_mm512_mask_blend_pd(_mm512_movepi64_mask((__m512i)m), (__m512d)b, (__m512d)a);
#elif HBX_W == 4
    return (vd)_mm256_blendv_pd((__m256d)b, (__m256d)a, (__m256d)m);
#else
    return (vd)(((vm)a & m) | ((vm)b & ~m));
#endif
}

static inline vd HBX_L(vabs)(vd x)
{
    return (vd)((vm)x & INT64_MAX); /* clears the sign bits */
}

/* max(0, x) for the arguments of square roots (NaN gives 0, as fmax). */
static inline vd HBX_L(vpos)(vd x)
{
    return HBX_L(vsel)(x > 0.0, x, HBX_L(vdup)(0.0));
}

/* The float nearest each lane, back in double (what storing it gives). The
 * intrinsics keep each conversion one instruction (GCC splits the generic
 * 8-lane widening in two). */
static inline vd HBX_L(vtofloat)(vd x)
{
#if HBX_W == 8
    return (vd)_mm512_cvtps_pd(_mm512_cvtpd_ps((__m512d)x));
#elif HBX_W == 4
    return (vd)_mm256_cvtps_pd(_mm256_cvtpd_ps((__m256d)x));
#else
    return __builtin_convertvector(__builtin_convertvector(x, vf), vd);
#endif
}

/* Floats widened to double lanes. */
static inline vd HBX_L(vwiden)(vf x)
{
#if HBX_W == 8
    return (vd)_mm512_cvtps_pd((__m256)x);
#elif HBX_W == 4
    return (vd)_mm256_cvtps_pd((__m128)x);
#else
    return __builtin_convertvector(x, vd);
#endif
}

/* Lanes stored as floats to dst[0, HBX_W). */
static inline void HBX_L(vstore)(float *dst, vd x)
{
    vf f = __builtin_convertvector(x, vf);
    memcpy(dst, &f, sizeof f);
}

/* The integer nearest 1000·x (half to even) for |1000·x| < 2^51, as
 * hbx_round3_k: callers check the result's range (hbx_vround3_all). */
static inline vd HBX_L(vmilli)(vd x)
{
    return (x * 1000.0 + 0x1.8p52) - 0x1.8p52;
}

/* hbx_round3 of n vectors of lanes, in place (values exact in float, held
 * as double). The fast form, k = vmilli(x) and k·0.001, is hbx_round3
 * whenever |k| <= 2^25 (33.5 TeV), which one test checks for all of them;
 * otherwise every lane takes hbx_round3 itself. */
static inline void HBX_L(vround3_all)(vd x[], int n)
{
    vd k[8];
    vm big = (vm)HBX_L(vdup)(0.0);
    for (int i = 0; i < n; i++) {
        k[i] = HBX_L(vmilli)(x[i]);
        big |= HBX_L(vabs)(k[i]) > 0x1p25;
    }
    if (__builtin_expect(HBX_L(vbits)(big) != 0, 0)) {
        for (int i = 0; i < n; i++)
            for (int l = 0; l < HBX_W; l++)
                x[i][l] = hbx_round3(x[i][l]);
        return;
    }
    for (int i = 0; i < n; i++)
        x[i] = HBX_L(vtofloat)(k[i] * 0.001);
}

/* Cosines and sines of azimuths hbx_thousandths(k[l]) (hbx_trig_k), k
 * given doubled (k2 = 2k). */
static inline void HBX_L(vtrig)(const int64_t k2[HBX_W], vd *c, vd *s)
{
    hbx_cs a[HBX_W];
    for (int l = 0; l < HBX_W; l++) {
        const int64_t k = k2[l] / 2;
        if (__builtin_expect(k >= -HBX_TRIG_MAX && k <= HBX_TRIG_MAX, 1))
            a[l] = hbx_trig_table[k + HBX_TRIG_MAX];
        else
            a[l] = hbx_trig_compute((double)k);
    }
#define HBX_C_(L) a[L].c
#define HBX_S_(L) a[L].s
    *c = HBX_LANEWISE(vd, HBX_C_);
    *s = HBX_LANEWISE(vd, HBX_S_);
#undef HBX_C_
#undef HBX_S_
}

/* met_phi = atan2(y, x) rounded to thousandths, lane by lane: the integer
 * k of hbx_round3_k(atan2(y, x)), exactly as libm's atan2 would give it.
 *
 * A polynomial arctangent (octant reduction to |t| <= tan(π/8), then an odd
 * polynomial of degree 17, error below 3e-14) is within 1e-13 of atan2;
 * whenever 1000·θ lies within 1e-6 of a rounding boundary (one event in
 * 500,000), or a component is zero or not finite, the lane is flagged and
 * the caller calls atan2. Elsewhere no value within the error can round
 * differently, so k is atan2's. */
static inline vd HBX_L(vatan2_k)(vd y, vd x, vm *flagged)
{
#define vsel HBX_L(vsel)
    const vd ax = HBX_L(vabs)(x), ay = HBX_L(vabs)(y);
    const vm swap = ay > ax;
    const vd lo = vsel(swap, ax, ay), hi = vsel(swap, ay, ax);
    /* lo/hi in [0, 1]; beyond tan(π/8) use atan(q) = π/4 + atan((q−1)/(q+1)). */
    const vm big = lo > hi * 0.41421356237309503;
    const vd t = vsel(big, lo - hi, lo) / vsel(big, lo + hi, hi);
    const vd u = t * t;
    vd p = HBX_L(vdup)(0.030662440370424447);
    p = p * u - 0.058745056213078309;
    p = p * u + 0.075637035519151921;
    p = p * u - 0.090783920729434239;
    p = p * u + 0.11110385046148014;
    p = p * u - 0.14285690423839287;
    p = p * u + 0.19999999604891977;
    p = p * u - 0.33333333330803444;
    p = p * u + 0.99999999999997324;
    vd r = vsel(big, HBX_L(vdup)(0.78539816339744831), HBX_L(vdup)(0.0)) + t * p;
    r = vsel(swap, 1.5707963267948966 - r, r);
    r = vsel(x < 0.0, 3.1415926535897931 - r, r);
    r = vsel(y < 0.0, -r, r);
    const vd y1000 = r * 1000.0;
    const vd k = (y1000 + 0x1.8p52) - 0x1.8p52;
    const vm usable = (lo > 0.0) & (hi < INFINITY);
    *flagged = ~usable | (HBX_L(vabs)(y1000 - k) > 0.5 - 1e-6);
    return k;
#undef vsel
}

/* Inputs of the DER formulas, one event per lane. Jet quantities of absent
 * jets are ignored (has1, has2 say which exist). */
typedef struct HBX_L(der_in) {
    vd lep_pt, had_pt, jet1_pt, jet2_pt, jet_all_pt, met;
    vd jet1_eta, jet2_eta;
    vd lep_c, lep_s, had_c, had_s, jet1_c, jet1_s, jet2_c, jet2_s, met_c, met_s;
    vd vis, jj, lep_eta_centrality, deltar; /* hbx_der_fixed */
    vm has1, has2;                          /* n_jets >= 1, n_jets >= 2 */
} HBX_L(der_in);

/* The 12 DER features of each lane, in double (the caller stores them as
 * float). Returns the lanes where DER_met_phi_centrality is degenerate
 * (A² + B² = 0): their out[10] is meaningless, and hbx_derive_event() (the
 * 1e-4 retry of HIGGSML.md §3) must recompute them. */
static inline vm HBX_L(der_lanes)(const HBX_L(der_in) *in, vd out[HBX_N_DER])
{
#define vsel HBX_L(vsel)
#define vsqrt HBX_L(vsqrt)
#define vpos HBX_L(vpos)
    const vd undef = HBX_L(vdup)((double)HBX_UNDEFINED), zero = HBX_L(vdup)(0.0);
    const vd lep_px = in->lep_pt * in->lep_c, lep_py = in->lep_pt * in->lep_s;
    const vd had_px = in->had_pt * in->had_c, had_py = in->had_pt * in->had_s;
    const vd met_x = in->met * in->met_c, met_y = in->met * in->met_s;

    /* DER_mass_transverse_met_lep: (met + lep)² − |met + lep|² =
     * met · lep · |u_met − u_lep|², free of cancellation. */
    {
        vd dc = in->met_c - in->lep_c, ds = in->met_s - in->lep_s;
        out[0] = vsqrt(vpos(in->met * in->lep_pt * (dc * dc + ds * ds)));
    }
    /* DER_mass_vis */
    out[1] = vsqrt(vpos(in->vis * in->had_pt));
    /* DER_pt_h */
    const vd h_x = had_px + lep_px + met_x, h_y = had_py + lep_py + met_y;
    out[2] = vsqrt(h_x * h_x + h_y * h_y);
    /* DER_deltaeta_jet_jet, DER_mass_jet_jet, DER_prodeta_jet_jet */
    out[3] = vsel(in->has2, HBX_L(vabs)(in->jet2_eta - in->jet1_eta), undef);
    out[4] = vsel(in->has2, vsqrt(vpos(in->jj * in->jet1_pt * in->jet2_pt)), undef);
    out[5] = vsel(in->has2, in->jet1_eta * in->jet2_eta, undef);
    /* DER_deltar_had_lep */
    out[6] = in->deltar;
    /* DER_pt_tot: absent jets contribute 0. */
    {
        vd x = h_x + vsel(in->has1, in->jet1_pt * in->jet1_c, zero) +
               vsel(in->has2, in->jet2_pt * in->jet2_c, zero);
        vd y = h_y + vsel(in->has1, in->jet1_pt * in->jet1_s, zero) +
               vsel(in->has2, in->jet2_pt * in->jet2_s, zero);
        out[7] = vsqrt(x * x + y * y);
    }
    /* DER_sum_pt, DER_pt_ratio_lep_had */
    out[8] = in->had_pt + in->lep_pt + in->jet_all_pt;
    out[9] = in->lep_pt / in->had_pt;
    /* DER_met_phi_centrality: s = sign(sin(φhad − φlep)),
     * A = sin(φmet − φlep)·s, B = sin(φhad − φmet)·s, sines of differences
     * from the angle-sum identities. */
    vm degenerate;
    {
        vd d = in->had_s * in->lep_c - in->had_c * in->lep_s;
        vd s = vsel(d > 0.0, HBX_L(vdup)(1.0), vsel(d < 0.0, HBX_L(vdup)(-1.0), zero));
        vd a = (in->met_s * in->lep_c - in->met_c * in->lep_s) * s;
        vd b = (in->had_s * in->met_c - in->had_c * in->met_s) * s;
        vd n2 = a * a + b * b;
        vm ok = n2 > 0.0;
        degenerate = ~ok;
        out[10] = (a + b) / vsqrt(vsel(ok, n2, HBX_L(vdup)(1.0)));
    }
    /* DER_lep_eta_centrality */
    out[11] = vsel(in->has2, in->lep_eta_centrality, undef);
    return degenerate;
#undef vsel
#undef vsqrt
#undef vpos
}

/* DER of m <= HBX_W events given as PRI rows and their terms (the generic
 * path: hbx_derive_event, hbx_derive_columns). Returns the lanes whose
 * DER_met_phi_centrality is degenerate (bit l for row l), left for the
 * caller's retry. */
static inline int HBX_L(der_rows)(const float (*pri)[HBX_N_PRIMARY], const hbx_der_terms *t,
                                  float (*der)[HBX_N_DER], unsigned m)
{
    /* Spare lanes repeat the last event: valid inputs, results unused. */
    unsigned r[HBX_W];
    for (unsigned l = 0; l < HBX_W; l++)
        r[l] = l < m ? l : m - 1;
    HBX_L(der_in) in;
#define HBX_P_(f, L) ((double)pri[r[L]][f])
#define HBX_LEP_PT_(L) HBX_P_(HBX_PRI_LEP_PT, L)
#define HBX_HAD_PT_(L) HBX_P_(HBX_PRI_HAD_PT, L)
#define HBX_J1_PT_(L) HBX_P_(HBX_PRI_JET_LEADING_PT, L)
#define HBX_J2_PT_(L) HBX_P_(HBX_PRI_JET_SUBLEADING_PT, L)
#define HBX_ALL_PT_(L) HBX_P_(HBX_PRI_JET_ALL_PT, L)
#define HBX_MET_(L) HBX_P_(HBX_PRI_MET, L)
#define HBX_J1_ETA_(L) HBX_P_(HBX_PRI_JET_LEADING_ETA, L)
#define HBX_J2_ETA_(L) HBX_P_(HBX_PRI_JET_SUBLEADING_ETA, L)
    in.lep_pt = HBX_LANEWISE(vd, HBX_LEP_PT_);
    in.had_pt = HBX_LANEWISE(vd, HBX_HAD_PT_);
    in.jet1_pt = HBX_LANEWISE(vd, HBX_J1_PT_);
    in.jet2_pt = HBX_LANEWISE(vd, HBX_J2_PT_);
    in.jet_all_pt = HBX_LANEWISE(vd, HBX_ALL_PT_);
    in.met = HBX_LANEWISE(vd, HBX_MET_);
    in.jet1_eta = HBX_LANEWISE(vd, HBX_J1_ETA_);
    in.jet2_eta = HBX_LANEWISE(vd, HBX_J2_ETA_);
#undef HBX_P_
#undef HBX_LEP_PT_
#undef HBX_HAD_PT_
#undef HBX_J1_PT_
#undef HBX_J2_PT_
#undef HBX_ALL_PT_
#undef HBX_MET_
#undef HBX_J1_ETA_
#undef HBX_J2_ETA_
#define HBX_T_(x, L) (t[r[L]].x)
#define HBX_LC_(L) HBX_T_(lep.c, L)
#define HBX_LS_(L) HBX_T_(lep.s, L)
#define HBX_HC_(L) HBX_T_(had.c, L)
#define HBX_HS_(L) HBX_T_(had.s, L)
#define HBX_1C_(L) HBX_T_(j1.c, L)
#define HBX_1S_(L) HBX_T_(j1.s, L)
#define HBX_2C_(L) HBX_T_(j2.c, L)
#define HBX_2S_(L) HBX_T_(j2.s, L)
#define HBX_MC_(L) HBX_T_(met.c, L)
#define HBX_MS_(L) HBX_T_(met.s, L)
#define HBX_VIS_(L) ((double)HBX_T_(fx.vis, L))
#define HBX_JJ_(L) ((double)HBX_T_(fx.jj, L))
#define HBX_LEC_(L) ((double)HBX_T_(fx.lep_eta_centrality, L))
#define HBX_DR_(L) ((double)HBX_T_(fx.deltar, L))
#define HBX_H1_(L) (-(int64_t)HBX_T_(has1, L))
#define HBX_H2_(L) (-(int64_t)HBX_T_(has2, L))
    in.lep_c = HBX_LANEWISE(vd, HBX_LC_);
    in.lep_s = HBX_LANEWISE(vd, HBX_LS_);
    in.had_c = HBX_LANEWISE(vd, HBX_HC_);
    in.had_s = HBX_LANEWISE(vd, HBX_HS_);
    in.jet1_c = HBX_LANEWISE(vd, HBX_1C_);
    in.jet1_s = HBX_LANEWISE(vd, HBX_1S_);
    in.jet2_c = HBX_LANEWISE(vd, HBX_2C_);
    in.jet2_s = HBX_LANEWISE(vd, HBX_2S_);
    in.met_c = HBX_LANEWISE(vd, HBX_MC_);
    in.met_s = HBX_LANEWISE(vd, HBX_MS_);
    in.vis = HBX_LANEWISE(vd, HBX_VIS_);
    in.jj = HBX_LANEWISE(vd, HBX_JJ_);
    in.lep_eta_centrality = HBX_LANEWISE(vd, HBX_LEC_);
    in.deltar = HBX_LANEWISE(vd, HBX_DR_);
    in.has1 = HBX_LANEWISE(vm, HBX_H1_);
    in.has2 = HBX_LANEWISE(vm, HBX_H2_);
#undef HBX_T_
#undef HBX_LC_
#undef HBX_LS_
#undef HBX_HC_
#undef HBX_HS_
#undef HBX_1C_
#undef HBX_1S_
#undef HBX_2C_
#undef HBX_2S_
#undef HBX_MC_
#undef HBX_MS_
#undef HBX_VIS_
#undef HBX_JJ_
#undef HBX_LEC_
#undef HBX_DR_
#undef HBX_H1_
#undef HBX_H2_
    vd v[HBX_N_DER];
    const int degenerate = HBX_L(vbits)(HBX_L(der_lanes)(&in, v));
    for (int k = 0; k < HBX_N_DER; k++) {
        float f[HBX_W];
        HBX_L(vstore)(f, v[k]);
        for (unsigned l = 0; l < m; l++)
            der[l][k] = f[l];
    }
    return degenerate & ((1 << m) - 1);
}

/* A block of up to HBX_SYST_BLOCK events in flight through the kernel,
 * one array per quantity. The kernel runs as a sequence of short passes
 * over the block (unpack, look up azimuths, shift, arctangent, DER), each
 * a loop of independent iterations: the out-of-order core then overlaps
 * the long dependency chains (square roots, division, polynomial) of many
 * events, where one pass doing everything per group would leave it waiting
 * on each. The block stays in L1. */
typedef struct HBX_L(block) {
#define HBX_ARR_(name) double name[HBX_SYST_BLOCK] __attribute__((aligned(32)))
    HBX_ARR_(had_pt);
    HBX_ARR_(jet1_pt);
    HBX_ARR_(jet2_pt);
    HBX_ARR_(jet_all_pt);
    HBX_ARR_(met);
    HBX_ARR_(lep_pt);
    HBX_ARR_(n_jets);
    HBX_ARR_(vis);
    HBX_ARR_(jj);
    HBX_ARR_(lep_eta_centrality);
    HBX_ARR_(deltar);
    HBX_ARR_(jet1_eta);
    HBX_ARR_(jet2_eta);
    HBX_ARR_(gx);
    HBX_ARR_(gy);
    HBX_ARR_(lep_c);
    HBX_ARR_(lep_s);
    HBX_ARR_(had_c);
    HBX_ARR_(had_s);
    HBX_ARR_(jet1_c);
    HBX_ARR_(jet1_s);
    HBX_ARR_(jet2_c);
    HBX_ARR_(jet2_s);
    HBX_ARR_(met0_c);
    HBX_ARR_(met0_s);
    /* After the shift. */
    HBX_ARR_(mx);
    HBX_ARR_(my);
    HBX_ARR_(had_r);
    HBX_ARR_(met_r);
    HBX_ARR_(jet1_out);
    HBX_ARR_(jet2_out);
    HBX_ARR_(jet_all_out);
    HBX_ARR_(n_out);
    HBX_ARR_(rm1);
    HBX_ARR_(rm2);
    HBX_ARR_(phi_k);
    HBX_ARR_(met_c);
    HBX_ARR_(met_s);
#undef HBX_ARR_
    /* Azimuths in thousandths, doubled: the offsets of their entries in
     * hbx_trig_table as arrays of doubles (from the centre), which address
     * without a shift. */
    int64_t k_lep[HBX_SYST_BLOCK] __attribute__((aligned(32)));
    int64_t k_had[HBX_SYST_BLOCK] __attribute__((aligned(32)));
    int64_t k_jet1[HBX_SYST_BLOCK] __attribute__((aligned(32)));
    int64_t k_jet2[HBX_SYST_BLOCK] __attribute__((aligned(32)));
    int64_t k_met[HBX_SYST_BLOCK] __attribute__((aligned(32)));
} HBX_L(block);

static inline vd HBX_L(ld)(const double *x)
{
    vd v;
    memcpy(&v, x, sizeof v);
    return v;
}

static inline void HBX_L(st)(double *x, vd v)
{
    memcpy(x, &v, sizeof v);
}

#if HBX_W >= 4
/* Cosines and sines of W azimuths in thousandths, given doubled (k2 = 2k)
 * and all in the table's range: one 16-byte entry per lane, two shuffles to
 * separate c from s. */
static inline void HBX_L(vtrig_in_range)(const int64_t k2[HBX_W], vd *c, vd *s)
{
    const double *t = &hbx_trig_table[HBX_TRIG_MAX].c;
#if HBX_W == 8
    const __m512d x = _mm512_insertf64x2(
        _mm512_insertf64x2(_mm512_insertf64x2(_mm512_castpd128_pd512(_mm_loadu_pd(t + k2[0])),
                                              _mm_loadu_pd(t + k2[2]), 1),
                           _mm_loadu_pd(t + k2[4]), 2),
        _mm_loadu_pd(t + k2[6]), 3);
    const __m512d y = _mm512_insertf64x2(
        _mm512_insertf64x2(_mm512_insertf64x2(_mm512_castpd128_pd512(_mm_loadu_pd(t + k2[1])),
                                              _mm_loadu_pd(t + k2[3]), 1),
                           _mm_loadu_pd(t + k2[5]), 2),
        _mm_loadu_pd(t + k2[7]), 3);
    *c = (vd)_mm512_unpacklo_pd(x, y);
    *s = (vd)_mm512_unpackhi_pd(x, y);
#else
    const __m256d x02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(t + k2[0])),
                                             _mm_loadu_pd(t + k2[2]), 1);
    const __m256d x13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(t + k2[1])),
                                             _mm_loadu_pd(t + k2[3]), 1);
    *c = (vd)_mm256_unpacklo_pd(x02, x13);
    *s = (vd)_mm256_unpackhi_pd(x02, x13);
#endif
}
#endif

/* Pass 1: unpacks the lines of one group (events i .. i + W of the block)
 * into the block's arrays, and writes the features the systematics never
 * change to the output rows. The AVX variants transpose four lines at a
 * time with shuffles (4x4 floats, 8x4 int16) and turn the thousandths into
 * floats as k / 1000.0f, which for every int16 k is the float of
 * hbx_milli_value(k) (checked exhaustively by the tests). Returns nonzero
 * when an event has an azimuth beyond the table. */
#if HBX_W >= 4
static inline int HBX_L(unpack4)(const hbx_syst_event *const e[4], HBX_L(block) *b, unsigned i,
                                 float (*out)[HBX_SYST_ROW], uint32_t pos)
{
    _Static_assert(offsetof(hbx_syst_event, milli) == 40 &&
                       offsetof(hbx_syst_event, n_jets) == 58 &&
                       offsetof(hbx_syst_event, flags) == 60,
                   "unpack's shuffles assume this layout");
    const char *p0 = (const char *)e[0], *p1 = (const char *)e[1], *p2 = (const char *)e[2];
    const char *p3 = (const char *)e[3];
    {
        __m128 a0 = _mm_loadu_ps((const float *)p0), a1 = _mm_loadu_ps((const float *)p1);
        __m128 a2 = _mm_loadu_ps((const float *)p2), a3 = _mm_loadu_ps((const float *)p3);
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        _mm256_store_pd(b->had_pt + i, _mm256_cvtps_pd(a0));
        _mm256_store_pd(b->jet1_pt + i, _mm256_cvtps_pd(a1));
        _mm256_store_pd(b->jet2_pt + i, _mm256_cvtps_pd(a2));
        _mm256_store_pd(b->jet_all_pt + i, _mm256_cvtps_pd(a3));
        a0 = _mm_loadu_ps((const float *)(p0 + 16)), a1 = _mm_loadu_ps((const float *)(p1 + 16));
        a2 = _mm_loadu_ps((const float *)(p2 + 16)), a3 = _mm_loadu_ps((const float *)(p3 + 16));
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        _mm256_store_pd(b->met + i, _mm256_cvtps_pd(a0));
        _mm_storeu_ps(out[HBX_PRI_LEP_PT] + pos, a1);
        _mm256_store_pd(b->lep_pt + i, _mm256_cvtps_pd(a1));
        _mm256_store_pd(b->vis + i, _mm256_cvtps_pd(a2));
        _mm256_store_pd(b->jj + i, _mm256_cvtps_pd(a3));
        const __m128 lo = _mm_unpacklo_ps(_mm_loadu_ps((const float *)(p0 + 32)),
                                          _mm_loadu_ps((const float *)(p1 + 32)));
        const __m128 hi = _mm_unpacklo_ps(_mm_loadu_ps((const float *)(p2 + 32)),
                                          _mm_loadu_ps((const float *)(p3 + 32)));
        _mm256_store_pd(b->lep_eta_centrality + i, _mm256_cvtps_pd(_mm_movelh_ps(lo, hi)));
        _mm256_store_pd(b->deltar + i, _mm256_cvtps_pd(_mm_movehl_ps(hi, lo)));
    }
    /* Bytes 40-55: milli[0..7]; 48-63 as int16: milli[4..8], then
     * n_jets | process << 8, then flags. */
    const __m128i r0 = _mm_loadu_si128((const __m128i *)(p0 + 40));
    const __m128i r1 = _mm_loadu_si128((const __m128i *)(p1 + 40));
    const __m128i r2 = _mm_loadu_si128((const __m128i *)(p2 + 40));
    const __m128i r3 = _mm_loadu_si128((const __m128i *)(p3 + 40));
    const __m128i t0 = _mm_unpacklo_epi16(r0, r1), t1 = _mm_unpackhi_epi16(r0, r1);
    const __m128i t2 = _mm_unpacklo_epi16(r2, r3), t3 = _mm_unpackhi_epi16(r2, r3);
    const __m128i h01 = _mm_unpackhi_epi16(_mm_loadu_si128((const __m128i *)(p0 + 48)),
                                           _mm_loadu_si128((const __m128i *)(p1 + 48)));
    const __m128i h23 = _mm_unpackhi_epi16(_mm_loadu_si128((const __m128i *)(p2 + 48)),
                                           _mm_loadu_si128((const __m128i *)(p3 + 48)));
    /* (milli[8], n_jets | process << 8) and (flags, spare), four lanes each. */
    const __m256i mn = _mm256_cvtepi16_epi32(_mm_unpacklo_epi32(h01, h23));
    const __m128i fl = _mm_unpackhi_epi32(h01, h23);
    const int wide = _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(fl, _mm_set1_epi16(0xff)),
                                                       _mm_setzero_si128())) != 0xffff;
#define HBX_K2_(x) _mm256_slli_epi64(_mm256_cvtepi32_epi64(x), 1)
    _mm256_store_si256((__m256i *)(b->k_met + i), HBX_K2_(_mm256_castsi256_si128(mn)));
    const __m128i nj = _mm_and_si128(_mm256_extracti128_si256(mn, 1), _mm_set1_epi32(0xff));
    _mm256_store_pd(b->n_jets + i, _mm256_cvtepi32_pd(nj));
    /* Fields (0, 1), (2, 3), (4, 5), (6, 7), four lanes each. */
    const __m128i u[4] = {_mm_unpacklo_epi32(t0, t2), _mm_unpackhi_epi32(t0, t2),
                          _mm_unpacklo_epi32(t1, t3), _mm_unpackhi_epi32(t1, t3)};
    static const int feature[HBX_N_MILLI - 1] = {
        HBX_PRI_LEP_ETA,         HBX_PRI_LEP_PHI,         HBX_PRI_HAD_ETA,
        HBX_PRI_HAD_PHI,         HBX_PRI_JET_LEADING_ETA, HBX_PRI_JET_LEADING_PHI,
        HBX_PRI_JET_SUBLEADING_ETA, HBX_PRI_JET_SUBLEADING_PHI};
    __m256i w[4];
    for (int f = 0; f < 4; f++) {
        w[f] = _mm256_cvtepi16_epi32(u[f]);
        const __m256 v = _mm256_div_ps(_mm256_cvtepi32_ps(w[f]), _mm256_set1_ps(1000.0f));
        _mm_storeu_ps(out[feature[2 * f]] + pos, _mm256_castps256_ps128(v));
        _mm_storeu_ps(out[feature[2 * f + 1]] + pos, _mm256_extractf128_ps(v, 1));
        if (2 * f == HBX_MILLI_JET1_ETA)
            _mm256_store_pd(b->jet1_eta + i, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        if (2 * f == HBX_MILLI_JET2_ETA)
            _mm256_store_pd(b->jet2_eta + i, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    }
    /* Azimuths are the odd fields: upper halves. Absent jets' are never
     * used: look up 0 rather than -25. */
    _mm256_store_si256((__m256i *)(b->k_lep + i),
                       HBX_K2_(_mm256_extracti128_si256(w[HBX_MILLI_LEP_PHI / 2], 1)));
    _mm256_store_si256((__m256i *)(b->k_had + i),
                       HBX_K2_(_mm256_extracti128_si256(w[HBX_MILLI_HAD_PHI / 2], 1)));
    const __m256i has = _mm256_set_m128i(_mm_cmpgt_epi32(nj, _mm_set1_epi32(1)),
                                         _mm_cmpgt_epi32(nj, _mm_setzero_si128()));
    const __m256i jets = _mm256_and_si256(
        _mm256_permute2x128_si256(w[HBX_MILLI_JET1_PHI / 2], w[HBX_MILLI_JET2_PHI / 2], 0x31), has);
    _mm256_store_si256((__m256i *)(b->k_jet1 + i), HBX_K2_(_mm256_castsi256_si128(jets)));
    _mm256_store_si256((__m256i *)(b->k_jet2 + i), HBX_K2_(_mm256_extracti128_si256(jets, 1)));
#undef HBX_K2_
    return wide;
}
#endif

static inline int HBX_L(unpack)(const hbx_syst_event *const e[HBX_W], HBX_L(block) *b, unsigned i,
                                float (*out)[HBX_SYST_ROW], uint32_t pos)
{
#if HBX_W == 8
    return HBX_L(unpack4)(e, b, i, out, pos) | HBX_L(unpack4)(e + 4, b, i + 4, out, pos + 4);
#elif HBX_W == 4
    return HBX_L(unpack4)(e, b, i, out, pos);
#else
    int wide = 0;
    for (int l = 0; l < HBX_W; l++) {
        const hbx_syst_event *x = e[l];
        b->had_pt[i + l] = x->had_pt;
        b->jet1_pt[i + l] = x->jet1_pt;
        b->jet2_pt[i + l] = x->jet2_pt;
        b->jet_all_pt[i + l] = x->jet_all_pt;
        b->met[i + l] = x->met;
        b->lep_pt[i + l] = x->lep_pt;
        b->n_jets[i + l] = x->n_jets;
        b->vis[i + l] = x->der.vis;
        b->jj[i + l] = x->der.jj;
        b->lep_eta_centrality[i + l] = x->der.lep_eta_centrality;
        b->deltar[i + l] = x->der.deltar;
        b->jet1_eta[i + l] = hbx_milli_value(x->milli[HBX_MILLI_JET1_ETA]);
        b->jet2_eta[i + l] = hbx_milli_value(x->milli[HBX_MILLI_JET2_ETA]);
        b->k_lep[i + l] = 2 * x->milli[HBX_MILLI_LEP_PHI];
        b->k_had[i + l] = 2 * x->milli[HBX_MILLI_HAD_PHI];
        b->k_jet1[i + l] = x->n_jets >= 1 ? 2 * x->milli[HBX_MILLI_JET1_PHI] : 0;
        b->k_jet2[i + l] = x->n_jets >= 2 ? 2 * x->milli[HBX_MILLI_JET2_PHI] : 0;
        b->k_met[i + l] = 2 * x->milli[HBX_MILLI_MET_PHI];
        out[HBX_PRI_LEP_PT][pos + l] = x->lep_pt;
        out[HBX_PRI_LEP_ETA][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_LEP_ETA]);
        out[HBX_PRI_LEP_PHI][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_LEP_PHI]);
        out[HBX_PRI_HAD_ETA][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_HAD_ETA]);
        out[HBX_PRI_HAD_PHI][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_HAD_PHI]);
        out[HBX_PRI_JET_LEADING_ETA][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_JET1_ETA]);
        out[HBX_PRI_JET_LEADING_PHI][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_JET1_PHI]);
        out[HBX_PRI_JET_SUBLEADING_ETA][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_JET2_ETA]);
        out[HBX_PRI_JET_SUBLEADING_PHI][pos + l] = hbx_milli_value(x->milli[HBX_MILLI_JET2_PHI]);
        wide |= x->flags;
    }
    return wide;
#endif
}

/* Pass 2: the azimuths' cosines and sines. */
static inline void HBX_L(look_up)(HBX_L(block) *b, unsigned i, int wide)
{
    vd c, s;
#define HBX_LOOK_(fn)                                                                            \
    do {                                                                                         \
        HBX_L(fn)(b->k_lep + i, &c, &s);                                                         \
        HBX_L(st)(b->lep_c + i, c);                                                              \
        HBX_L(st)(b->lep_s + i, s);                                                              \
        HBX_L(fn)(b->k_had + i, &c, &s);                                                         \
        HBX_L(st)(b->had_c + i, c);                                                              \
        HBX_L(st)(b->had_s + i, s);                                                              \
        HBX_L(fn)(b->k_jet1 + i, &c, &s);                                                        \
        HBX_L(st)(b->jet1_c + i, c);                                                             \
        HBX_L(st)(b->jet1_s + i, s);                                                             \
        HBX_L(fn)(b->k_jet2 + i, &c, &s);                                                        \
        HBX_L(st)(b->jet2_c + i, c);                                                             \
        HBX_L(st)(b->jet2_s + i, s);                                                             \
        HBX_L(fn)(b->k_met + i, &c, &s);                                                         \
        HBX_L(st)(b->met0_c + i, c);                                                             \
        HBX_L(st)(b->met0_s + i, s);                                                             \
    } while (0)
#if HBX_W >= 4
    if (__builtin_expect(!wide, 1)) {
        HBX_LOOK_(vtrig_in_range);
        return;
    }
#else
    (void)wide;
#endif
    HBX_LOOK_(vtrig);
#undef HBX_LOOK_
}

/* Pass 3: steps 1-4 (not the azimuth) and step 5's jet removal. */
static inline void HBX_L(shift)(HBX_L(block) *b, unsigned i, const hbx_syst_params *p, int soft,
                                float (*out)[HBX_SYST_ROW], uint32_t pos, hbx_syst_trace *trace)
{
#define vsel HBX_L(vsel)
#define vdup HBX_L(vdup)
#define ld HBX_L(ld)
#define st HBX_L(st)
#define vstore HBX_L(vstore)
    const vd zero = vdup(0.0), one = vdup(1.0), undef = vdup((double)HBX_UNDEFINED);
    const vd had_pt = ld(b->had_pt + i), jet1_pt = ld(b->jet1_pt + i);
    const vd jet2_pt = ld(b->jet2_pt + i), n0 = ld(b->n_jets + i);
    const vm orig1 = n0 >= 1.0, orig2 = n0 >= 2.0;

    /* Steps 1-2: scales; absent jets keep their placeholder. The prepared
     * vectors: pt as given, azimuth at 3 decimals. */
    const vd had = had_pt * p->tes;
    const vd jet1 = vsel(orig1, jet1_pt * p->jes, jet1_pt);
    const vd jet2 = vsel(orig2, jet2_pt * p->jes, jet2_pt);
    const vd jet_all = ld(b->jet_all_pt + i) * p->jes;
    const vd had_px = had_pt * ld(b->had_c + i), had_py = had_pt * ld(b->had_s + i);
    const vd jet_px = vsel(orig1, jet1_pt * ld(b->jet1_c + i), zero) +
                      vsel(orig2, jet2_pt * ld(b->jet2_c + i), zero);
    const vd jet_py = vsel(orig1, jet1_pt * ld(b->jet1_s + i), zero) +
                      vsel(orig2, jet2_pt * ld(b->jet2_s + i), zero);
    const vd met0 = ld(b->met + i);
    const vd met_x0 = met0 * ld(b->met0_c + i), met_y0 = met0 * ld(b->met0_s + i);
    const vd mx_tes = met_x0 - p->tes_m1 * had_px, my_tes = met_y0 - p->tes_m1 * had_py;
    const vd mx_jes = mx_tes - p->jes_m1 * jet_px, my_jes = my_tes - p->jes_m1 * jet_py;
    /* Step 3: soft term. */
    vd mx = mx_jes, my = my_jes;
    if (soft) {
        mx = mx + p->soft_met * ld(b->gx + i);
        my = my + p->soft_met * ld(b->gy + i);
    }
    st(b->mx + i, mx);
    st(b->my + i, my);
    /* Step 4: MET magnitude; round. */
    const vd met = HBX_L(vsqrt)(mx * mx + my * my);
    vd r[5] = {had, met, jet1, jet2, jet_all};
    HBX_L(vround3_all)(r, 5);
    const vd had_r = r[0], met_r = r[1], jet1_r = r[2], jet2_r = r[3], jet_all_r = r[4];
    /* Step 5's jet removal, subleading then leading, on the rounded values;
     * jet_all_pt loses the removed pt (in double, to float). A removed jet
     * is not replaced by the next one (its kinematics are not in the data):
     * see docs/SYSTEMATICS.md. */
    vm rm1 = (vm)zero, rm2 = (vm)zero;
    vd n_jets = n0, jet_all_out = jet_all_r;
    if (p->post_selection) {
        rm2 = (jet2_r >= 0.0) & (jet2_r <= (double)HBX_CUT_JET_PT);
        jet_all_out = vsel(rm2, HBX_L(vtofloat)(jet_all_out - jet2_r), jet_all_out);
        n_jets = n_jets - vsel(rm2, one, zero);
        rm1 = (jet1_r >= 0.0) & (jet1_r <= (double)HBX_CUT_JET_PT);
        jet_all_out = vsel(rm1, HBX_L(vtofloat)(jet_all_out - jet1_r), jet_all_out);
        n_jets = n_jets - vsel(rm1, one, zero);
        /* A removed jet's η and φ become -25 (no branch: a group often has
         * one). */
        {
            vd eta1 = ld(b->jet1_eta + i), eta2 = ld(b->jet2_eta + i), phi1, phi2;
            vf f;
            memcpy(&f, out[HBX_PRI_JET_LEADING_PHI] + pos, sizeof f);
            phi1 = HBX_L(vwiden)(f);
            memcpy(&f, out[HBX_PRI_JET_SUBLEADING_PHI] + pos, sizeof f);
            phi2 = HBX_L(vwiden)(f);
            vstore(out[HBX_PRI_JET_LEADING_ETA] + pos, vsel(rm1, undef, eta1));
            vstore(out[HBX_PRI_JET_LEADING_PHI] + pos, vsel(rm1, undef, phi1));
            vstore(out[HBX_PRI_JET_SUBLEADING_ETA] + pos, vsel(rm2, undef, eta2));
            vstore(out[HBX_PRI_JET_SUBLEADING_PHI] + pos, vsel(rm2, undef, phi2));
        }
    }
    const vd jet1_out = vsel(rm1, undef, jet1_r), jet2_out = vsel(rm2, undef, jet2_r);
    st(b->had_r + i, had_r);
    st(b->met_r + i, met_r);
    st(b->jet1_out + i, jet1_out);
    st(b->jet2_out + i, jet2_out);
    st(b->jet_all_out + i, jet_all_out);
    st(b->n_out + i, n_jets);
    st(b->rm1 + i, (vd)rm1);
    st(b->rm2 + i, (vd)rm2);
    vstore(out[HBX_PRI_HAD_PT] + pos, had_r);
    vstore(out[HBX_PRI_JET_LEADING_PT] + pos, jet1_out);
    vstore(out[HBX_PRI_JET_SUBLEADING_PT] + pos, jet2_out);
    vstore(out[HBX_PRI_N_JETS] + pos, n_jets);
    vstore(out[HBX_PRI_JET_ALL_PT] + pos, jet_all_out);
    vstore(out[HBX_PRI_MET] + pos, met_r);

    if (__builtin_expect(trace != NULL, 0)) {
        trace->had_pt = had[0];
        trace->jet1_pt = jet1[0];
        trace->jet2_pt = jet2[0];
        trace->jet_all_pt = jet_all[0];
        trace->had_px = had_px[0];
        trace->had_py = had_py[0];
        trace->jet_px = jet_px[0];
        trace->jet_py = jet_py[0];
        trace->met_x0 = met_x0[0];
        trace->met_y0 = met_y0[0];
        trace->met_x_tes = mx_tes[0];
        trace->met_y_tes = my_tes[0];
        trace->met_x_jes = mx_jes[0];
        trace->met_y_jes = my_jes[0];
        trace->soft_x = soft ? p->soft_met * b->gx[i] : 0.0;
        trace->soft_y = soft ? p->soft_met * b->gy[i] : 0.0;
        trace->met_x = mx[0];
        trace->met_y = my[0];
        trace->met = met[0];
        trace->met_phi = atan2(my[0], mx[0]);
        trace->rounded[HBX_PRI_HAD_PT] = (float)had_r[0];
        trace->rounded[HBX_PRI_JET_LEADING_PT] = (float)jet1_r[0];
        trace->rounded[HBX_PRI_JET_SUBLEADING_PT] = (float)jet2_r[0];
        trace->rounded[HBX_PRI_N_JETS] = (float)n0[0];
        trace->rounded[HBX_PRI_JET_ALL_PT] = (float)jet_all_r[0];
        trace->rounded[HBX_PRI_MET] = (float)met_r[0];
        trace->dropped_had = p->post_selection && had_r[0] < (double)HBX_CUT_HAD_PT;
        trace->removed_jet2 = rm2[0] != 0;
        trace->removed_jet1 = rm1[0] != 0;
        trace->dropped_lep = p->post_selection && b->lep_pt[i] < (double)HBX_CUT_LEP_PT;
    }
#undef vsel
#undef vdup
#undef ld
#undef st
#undef vstore
}

/* Pass 6: the DER features. Returns the lanes hbx_derive_event must redo. */
static inline int HBX_L(derive)(const HBX_L(block) *b, unsigned i, float (*out)[HBX_SYST_ROW],
                                uint32_t pos)
{
#define ld HBX_L(ld)
    HBX_L(der_in) in;
    in.lep_pt = ld(b->lep_pt + i);
    in.had_pt = ld(b->had_r + i);
    in.jet1_pt = ld(b->jet1_out + i);
    in.jet2_pt = ld(b->jet2_out + i);
    in.jet_all_pt = ld(b->jet_all_out + i);
    in.met = ld(b->met_r + i);
    in.jet1_eta = ld(b->jet1_eta + i);
    in.jet2_eta = ld(b->jet2_eta + i);
    in.lep_c = ld(b->lep_c + i);
    in.lep_s = ld(b->lep_s + i);
    in.had_c = ld(b->had_c + i);
    in.had_s = ld(b->had_s + i);
    in.jet1_c = ld(b->jet1_c + i);
    in.jet1_s = ld(b->jet1_s + i);
    in.jet2_c = ld(b->jet2_c + i);
    in.jet2_s = ld(b->jet2_s + i);
    in.met_c = ld(b->met_c + i);
    in.met_s = ld(b->met_s + i);
    in.vis = ld(b->vis + i);
    in.jj = ld(b->jj + i);
    in.lep_eta_centrality = ld(b->lep_eta_centrality + i);
    in.deltar = ld(b->deltar + i);
    const vd n_jets = ld(b->n_out + i);
    in.has1 = n_jets >= 1.0;
    in.has2 = n_jets >= 2.0;
    /* The fixed terms are those of the prepared event's jets: valid unless
     * a slot the formulas use lost its jet (an event with more than two
     * jets, or jets not in pt order). */
    const vm redo = (in.has1 & (vm)ld(b->rm1 + i)) | (in.has2 & (vm)ld(b->rm2 + i));
    vd der[HBX_N_DER];
    const vm degenerate = HBX_L(der_lanes)(&in, der);
    for (int k = 0; k < HBX_N_DER; k++)
        HBX_L(vstore)(out[HBX_N_PRIMARY + k] + pos, der[k]);
    return HBX_L(vbits)(redo | degenerate);
#undef ld
}

/* hbx_syst_batch for this instruction set. */
static inline void HBX_L(syst_batch)(const hbx_syst_event *const *ev, const double *gx,
                                     const double *gy, uint32_t n, const hbx_syst_params *p,
                                     float (*out)[HBX_SYST_ROW], uint32_t at,
                                     hbx_syst_trace *trace, const hbx_syst_overlap *ov)
{
    const int soft = p->soft_met > 0.0;
    HBX_L(block) block __attribute__((aligned(64)));
    HBX_L(block) *b = &block;
    /* The caller's reads, spread evenly over the groups of three of the
     * passes. They go to L2 only (locality 1): far more of those can be in
     * flight than fetches into L1, which matters for random DRAM reads. */
    static const hbx_syst_overlap none;
    if (!ov)
        ov = &none;
    const uint64_t steps = 3 * (uint64_t)((n + HBX_W - 1) / HBX_W);
    uint64_t step = 0;
    uint32_t next_prefetch = 0;
#define HBX_PREFETCH_SHARE_()                                                                    \
    for (const uint32_t end_ = (uint32_t)(ov->n_prefetch * ++step / steps);                      \
         next_prefetch < end_; next_prefetch++)                                                  \
    __builtin_prefetch(ov->prefetch[next_prefetch], 0, 1)
    for (uint32_t b0 = 0; b0 < n; b0 += HBX_SYST_BLOCK) {
        /* Whole groups: spare lanes repeat the last event; the rows have
         * room for their results (HBX_SYST_ROW). */
        const unsigned nb = n - b0 < HBX_SYST_BLOCK ? n - b0 : HBX_SYST_BLOCK;
        const unsigned span = (nb + HBX_W - 1) / HBX_W * HBX_W;
        const uint32_t pos0 = at + b0;
        int wide = 0;
        for (unsigned i = 0; i < span; i += HBX_W) {
            HBX_PREFETCH_SHARE_();
            const hbx_syst_event *const *e = ev + b0 + i;
            const hbx_syst_event *last[HBX_W];
            if (__builtin_expect(i + HBX_W > nb, 0)) {
                for (unsigned l = 0; l < HBX_W; l++)
                    last[l] = ev[b0 + (i + l < nb ? i + l : nb - 1)];
                e = last;
            }
            wide |= HBX_L(unpack)(e, b, i, out, pos0 + i);
        }
        if (soft) {
            memcpy(b->gx, gx + b0, nb * sizeof *gx);
            memcpy(b->gy, gy + b0, nb * sizeof *gy);
            for (unsigned l = nb; l < span; l++)
                b->gx[l] = b->gy[l] = 0.0; /* spare lanes: any finite value */
        }
        for (unsigned i = 0; i < span; i += HBX_W)
            HBX_L(look_up)(b, i, wide);
        for (unsigned i = 0; i < span; i += HBX_W) {
            HBX_PREFETCH_SHARE_();
            HBX_L(shift)(b, i, p, soft, out, pos0 + i, b0 == 0 && i == 0 ? trace : NULL);
        }
        /* Step 4's azimuth: the polynomial, atan2 where it cannot decide. */
        for (unsigned i = 0; i < span; i += HBX_W) {
            vm flagged;
            vd k = HBX_L(vatan2_k)(HBX_L(ld)(b->my + i), HBX_L(ld)(b->mx + i), &flagged);
            if (__builtin_expect(HBX_L(vbits)(flagged) != 0, 0))
                for (int l = 0; l < HBX_W; l++)
                    if (flagged[l])
                        k[l] = hbx_round3_k(atan2(b->my[i + l], b->mx[i + l]));
            HBX_L(st)(b->phi_k + i, k);
            /* |k| <= 3142: the multiply is hbx_thousandths. */
            HBX_L(vstore)(out[HBX_PRI_MET_PHI] + pos0 + i, k * 0.001);
        }
        for (unsigned i = 0; i < span; i += HBX_W) {
            int64_t k2[HBX_W];
            const vd twice = HBX_L(ld)(b->phi_k + i) * 2.0;
            for (int l = 0; l < HBX_W; l++)
                k2[l] = (int64_t)twice[l];
            vd c, s;
#if HBX_W >= 4
            /* atan2 lies in [-π, π]: always inside the table. */
            HBX_L(vtrig_in_range)(k2, &c, &s);
#else
            HBX_L(vtrig)(k2, &c, &s);
#endif
            HBX_L(st)(b->met_c + i, c);
            HBX_L(st)(b->met_s + i, s);
        }
        if (__builtin_expect(trace != NULL, 0) && b0 == 0) {
            trace->rounded[HBX_PRI_MET_PHI] = out[HBX_PRI_MET_PHI][pos0];
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                if (f != HBX_PRI_HAD_PT && f != HBX_PRI_JET_LEADING_PT &&
                    f != HBX_PRI_JET_SUBLEADING_PT && f != HBX_PRI_N_JETS &&
                    f != HBX_PRI_JET_ALL_PT && f != HBX_PRI_MET && f != HBX_PRI_MET_PHI)
                    trace->rounded[f] = out[f][pos0];
            /* Before the jet removal. */
            trace->rounded[HBX_PRI_JET_LEADING_ETA] =
                hbx_milli_value(ev[0]->milli[HBX_MILLI_JET1_ETA]);
            trace->rounded[HBX_PRI_JET_LEADING_PHI] =
                hbx_milli_value(ev[0]->milli[HBX_MILLI_JET1_PHI]);
            trace->rounded[HBX_PRI_JET_SUBLEADING_ETA] =
                hbx_milli_value(ev[0]->milli[HBX_MILLI_JET2_ETA]);
            trace->rounded[HBX_PRI_JET_SUBLEADING_PHI] =
                hbx_milli_value(ev[0]->milli[HBX_MILLI_JET2_PHI]);
        }
        uint64_t again = 0;
        for (unsigned i = 0; i < span; i += HBX_W) {
            HBX_PREFETCH_SHARE_();
            again |= (uint64_t)HBX_L(derive)(b, i, out, pos0 + i) << i;
        }
        again &= nb < 64 ? ((uint64_t)1 << nb) - 1 : ~(uint64_t)0;
        while (__builtin_expect(again != 0, 0)) {
            const unsigned l = (unsigned)__builtin_ctzll(again);
            again &= again - 1;
            float pri[HBX_N_PRIMARY], d[HBX_N_DER];
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                pri[f] = out[f][pos0 + l];
            hbx_derive_event(pri, d);
            for (int k = 0; k < HBX_N_DER; k++)
                out[HBX_N_PRIMARY + k][pos0 + l] = d[k];
        }
    }
    for (; next_prefetch < ov->n_prefetch; next_prefetch++)
        __builtin_prefetch(ov->prefetch[next_prefetch], 0, 1);
#undef HBX_PREFETCH_SHARE_
}

#undef vd
#undef vm
#undef vf
#undef vi
#undef HBX_W
#undef HBX_L
#undef HBX_LANEWISE
#endif /* HBX_LANES */
