// Piecewise tables for float32 exact GELU on every backend (generated: the
// output of `python tools/fit_coefficients.py`, which documents the fits):
// the tail tables below, and the near table further down.
//
// Each table holds, for the 32 intervals of y = |x| selected by
// tail_index() in gelu_math.h, the expansion point of the interval and the
// coefficients c0..c5 (low to high) of a polynomial in d = y - centre:
//   kTailForward     S(y) = -y R(y) 2^(-CL y^2)
//   kTailDerivative  D(y) = (R(y) - y/sqrt(2 pi)) 2^(-CL y^2)
// with R(y) = exp(y^2/2) Phi(-y) and CL the part of log2(e)/2 that the float
// multiplier of y^2 leaves out. Interval 12 (y < 5/64) is expanded at 0; its
// forward c0 is -0 so that f(-0) = -0. Index order: (bits(y) >> 21) & 31.
#pragma once

namespace gelu_ext {
namespace math {

// The coefficients as fitted (one array per term), and the table the kernels
// read: the same arrays plus each interval's terms as one row of eight
// floats (centre, c0..c5, 0), for 8-lane paths that load rows and transpose.
struct TailCoeffs {
  float centre[32];
  float c[6][32];
};
struct alignas(128) TailTable {  // each 32-float array: one 128-byte line
  float centre[32];
  float c[6][32];
  float row[32][8];
};
// The kernels' table from the fitted arrays (each row: the centre and as many
// coefficients as fit in eight floats, the rest 0).
template <class Table, class Coeffs>
constexpr Table make_table(const Coeffs& k) {
  constexpr int kTerms = sizeof(k.c) / sizeof(k.c[0]);
  Table t{};
  for (int j = 0; j < 32; ++j) {
    t.centre[j] = t.row[j][0] = k.centre[j];
    for (int i = 0; i < kTerms; ++i) {
      t.c[i][j] = k.c[i][j];
      if (i < 7) t.row[j][i + 1] = k.c[i][j];
    }
  }
  return t;
}
constexpr TailTable make_tail_table(const TailCoeffs& k) { return make_table<TailTable>(k); }

// One interval's terms, as looked up for each lane.
template <class V>
struct TailTerms {
  V centre;
  V c[6];
};

// The near table (kNearForward): for the 32 intervals of y selected by
// near_index() in gelu_math.h (uniform in 5 y (y + 3) / 16, y <= 8.625), the
// centre and the coefficients c0..c7 of a polynomial in d = y - centre for
//   T(y) = -y Phi(-y),
// the whole of float32 exact GELU for x >= -8.625: f = T(yc) + max(-0, x),
// yc = min(|x|, 8.625). Interval 0 (y < 0.46) is expanded at 0; its c0 is
// -0 so that f(-0) = -0. The first
// eight terms of each interval (centre, c0..c6) are also one row of eight
// floats, for the 8-lane paths.
struct NearCoeffs {
  float centre[32];
  float c[8][32];
};
struct alignas(128) NearTable {
  float centre[32];
  float c[8][32];
  float row[32][8];
};
constexpr NearTable make_near_table(const NearCoeffs& k) { return make_table<NearTable>(k); }
template <class V>
struct NearTerms {
  V centre;
  V c[8];
};

// kTailForward: degree 5, max error relative to |f| + 0: 7.378e-09
// clang-format off
inline constexpr TailTable kTailForward = make_tail_table({
    {0x1.1ffp+1f, 0x1.610ep+1f, 0x1.9f6fp+1f, 0x1.dfff8p+1f,
      0x1.1fb6p+2f, 0x1.60a5p+2f, 0x1.9fc78p+2f, 0x1.df74p+2f,
      0x1.20ca8p+3f, 0x1.5f0c8p+3f, 0x1.9f95p+3f, 0x1.cff28p+3f,
      0x0p+0f, 0x1.600e8p-4f, 0x1.9fbep-4f, 0x1.e05ep-4f,
      0x1.1f75p-3f, 0x1.5e3c8p-3f, 0x1.a094p-3f, 0x1.df798p-3f,
      0x1.20ed8p-2f, 0x1.5f838p-2f, 0x1.9faep-2f, 0x1.e0558p-2f,
      0x1.20278p-1f, 0x1.5fb58p-1f, 0x1.9f0e8p-1f, 0x1.dff08p-1f,
      0x1.1d8a8p+0f, 0x1.604fp+0f, 0x1.a01fp+0f, 0x1.dfd1p+0f},
    {{-0x1.61ff42p-2f, -0x1.704edp-2f, -0x1.797fd4p-2f, -0x1.80267ep-2f,
      -0x1.86be0ap-2f, -0x1.8c361ep-2f, -0x1.8f7488p-2f, -0x1.919888p-2f,
      -0x1.93acd6p-2f, -0x1.95341p-2f, -0x1.9622dcp-2f, -0x1.969998p-2f,
      -0x0p+0f, -0x1.4927fap-5f, -0x1.801ac2p-5f, -0x1.b68694p-5f,
      -0x1.01e5d4p-4f, -0x1.332326p-4f, -0x1.64bc9ep-4f, -0x1.91939ap-4f,
      -0x1.d3b8e6p-4f, -0x1.10b26cp-3f, -0x1.35196cp-3f, -0x1.56a302p-3f,
      -0x1.8346fcp-3f, -0x1.b648ccp-3f, -0x1.e175d2p-3f, -0x1.039466p-2f,
      -0x1.19902cp-2f, -0x1.328948p-2f, -0x1.448c6p-2f, -0x1.527176p-2f},
     {-0x1.15c952p-5f, -0x1.69fb9ep-6f, -0x1.f48d44p-7f, -0x1.6220cap-7f,
      -0x1.c0e364p-8f, -0x1.0697eep-8f, -0x1.4f2196p-9f, -0x1.c26888p-10f,
      -0x1.0952c4p-10f, -0x1.2df086p-11f, -0x1.70dfb4p-12f, -0x1.0ae08cp-12f,
      -0x1p-1f, -0x1.bf1e92p-2f, -0x1.b4723ap-2f, -0x1.a9ec1p-2f,
      -0x1.9b0faap-2f, -0x1.884392p-2f, -0x1.757f2ap-2f, -0x1.64ae34p-2f,
      -0x1.4c2534p-2f, -0x1.2fc53p-2f, -0x1.15a0dap-2f, -0x1.fbebfcp-3f,
      -0x1.be41bap-3f, -0x1.79db68p-3f, -0x1.41e0c6p-3f, -0x1.129e28p-3f,
      -0x1.bb521cp-4f, -0x1.499354p-4f, -0x1.f9670ep-5f, -0x1.89dfa8p-5f},
     {0x1.eedb3ap-7f, 0x1.203fbap-7f, 0x1.688a1p-8f, 0x1.cef47ap-9f,
      0x1.0124dap-9f, 0x1.005772p-10f, 0x1.1d12a4p-11f, 0x1.526fap-12f,
      0x1.511e9cp-13f, 0x1.401336p-14f, 0x1.4d3d1cp-15f, 0x1.b1e102p-16f,
      0x1.98844ep-2f, 0x1.5c2818p-2f, 0x1.525a96p-2f, 0x1.48b9d8p-2f,
      0x1.3b31acp-2f, 0x1.2a3104p-2f, 0x1.1958d2p-2f, 0x1.0a5eaap-2f,
      0x1.e974bap-3f, 0x1.b80f6p-3f, 0x1.8b3c22p-3f, 0x1.63452ap-3f,
      0x1.302df4p-3f, 0x1.f1efd6p-4f, 0x1.9a36e2p-4f, 0x1.5253b6p-4f,
      0x1.04935ap-4f, 0x1.6a47dap-5f, 0x1.04fd28p-5f, 0x1.7ef296p-6f},
     {-0x1.70ff8cp-8f, -0x1.83ce94p-9f, -0x1.b9fd9cp-10f, -0x1.03206ep-10f,
      -0x1.fc428ep-12f, -0x1.b2c4bep-13f, -0x1.a770acp-14f, -0x1.bdaaa2p-15f,
      -0x1.78a41ap-16f, -0x1.2b5eacp-17f, -0x1.0a0f1cp-18f, -0x1.37f66ep-19f,
      -0x1.fffb26p-3f, -0x1.ac266ep-3f, -0x1.9f0ffp-3f, -0x1.9103c8p-3f,
      -0x1.7d4716p-3f, -0x1.66b81ep-3f, -0x1.4f5a9p-3f, -0x1.3b2916p-3f,
      -0x1.1e1b68p-3f, -0x1.fae584p-4f, -0x1.c01p-4f, -0x1.8cc7bap-4f,
      -0x1.4c1b2ap-4f, -0x1.07daf4p-4f, -0x1.a61bccp-5f, -0x1.51cc66p-5f,
      -0x1.f3247p-6f, -0x1.46c374p-6f, -0x1.bd279ep-7f, -0x1.35403p-7f},
     {0x1.ed3926p-10f, 0x1.d6837ap-11f, 0x1.eb021p-12f, 0x1.07fcbep-12f,
      0x1.d0c5dcp-14f, 0x1.56296ep-15f, 0x1.245e42p-16f, 0x1.112f8cp-17f,
      0x1.8ee908p-19f, 0x1.085214p-20f, 0x1.9052eap-22f, 0x1.a7db0cp-23f,
      0x1.0fa48ep-3f, 0x1.e4de5ep-4f, 0x1.ceac6p-4f, 0x1.8a9d3ap-4f,
      0x1.8da33cp-4f, 0x1.6aa0a2p-4f, 0x1.5128c2p-4f, 0x1.4240c2p-4f,
      0x1.1dca32p-4f, 0x1.f3db5ap-5f, 0x1.b3d19p-5f, 0x1.7c0528p-5f,
      0x1.3855aap-5f, 0x1.e2f08ap-6f, 0x1.77e052p-6f, 0x1.25158ap-6f,
      0x1.a18a32p-7f, 0x1.02dadap-7f, 0x1.4ee668p-8f, 0x1.ba7d56p-9f},
     {-0x1.2c2866p-11f, -0x1.093a0cp-12f, -0x1.f41c94p-14f, -0x1.f204fp-15f,
      -0x1.874c82p-16f, -0x1.fc2672p-18f, -0x1.79f06ep-19f, -0x1.399dcap-20f,
      -0x1.930182p-22f, -0x1.b0a594p-24f, -0x1.1bd682p-25f, -0x1.0e2db8p-26f,
      -0x1.d69ad2p-5f, 0x1.7c14d2p+2f, 0x1.278218p+3f, 0x1.286a1ep+2f,
      -0x1.f600cap-2f, 0x1.4b510cp-1f, -0x1.e8ca34p-6f, 0x1.41de2ap-5f,
      -0x1.0a86cp-5f, -0x1.cecec4p-7f, -0x1.1a523ap-4f, -0x1.c76452p-6f,
      -0x1.175006p-6f, -0x1.760804p-7f, -0x1.06db6ap-7f, -0x1.d75d2p-8f,
      -0x1.32e06p-8f, -0x1.740bccp-9f, -0x1.cbc72cp-10f, -0x1.1e331p-10f}}});
// clang-format on
// kTailDerivative: degree 5, max error relative to |f| + 5.96046e-08: 1.338e-08
// clang-format off
inline constexpr TailTable kTailDerivative = make_tail_table({
    {0x1.1e438p+1f, 0x1.5f25p+1f, 0x1.9ee8p+1f, 0x1.e11e8p+1f,
      0x1.1f018p+2f, 0x1.60b18p+2f, 0x1.9fc88p+2f, 0x1.e00f8p+2f,
      0x1.1ff28p+3f, 0x1.5ffe8p+3f, 0x1.a04c8p+3f, 0x1.d09bp+3f,
      0x0p+0f, 0x1.5f638p-4f, 0x1.a01cp-4f, 0x1.e00b8p-4f,
      0x1.1f408p-3f, 0x1.61558p-3f, 0x1.a0a78p-3f, 0x1.e004p-3f,
      0x1.1e3bp-2f, 0x1.607b8p-2f, 0x1.a041p-2f, 0x1.e101p-2f,
      0x1.1e7d8p-1f, 0x1.60dcp-1f, 0x1.a0f6p-1f, 0x1.e0a38p-1f,
      0x1.1ff98p+0f, 0x1.5f33p+0f, 0x1.a0b28p+0f, 0x1.dea68p+0f},
    {{-0x1.79c508p-1f, -0x1.ed477ep-1f, -0x1.2deff2p+0f, -0x1.665214p+0f,
      -0x1.b4375cp+0f, -0x1.106bdep+1f, -0x1.440fa2p+1f, -0x1.78570ep+1f,
      -0x1.c5e3cep+1f, -0x1.168c4cp+2f, -0x1.4a34f2p+2f, -0x1.70f36p+2f,
      0x1p-1f, 0x1.bbb5a4p-2f, 0x1.af8104p-2f, 0x1.a38dbp-2f,
      0x1.92164p-2f, 0x1.7a037ap-2f, 0x1.635436p-2f, 0x1.4cfcbp-2f,
      0x1.2cff78p-2f, 0x1.005248p-2f, 0x1.ad09fp-3f, 0x1.5a5ab4p-3f,
      0x1.d0b3c8p-4f, 0x1.286648p-5f, -0x1.22d2f6p-5f, -0x1.ab1c2ep-4f,
      -0x1.a09e4ap-3f, -0x1.513ffep-2f, -0x1.d17a3ep-2f, -0x1.23763cp-1f},
     {-0x1.cf7e4ep-2f, -0x1.c110c4p-2f, -0x1.b7995p-2f, -0x1.b0c96p-2f,
      -0x1.aa5e66p-2f, -0x1.a4d1a6p-2f, -0x1.a193f6p-2f, -0x1.9f6bb2p-2f,
      -0x1.9d629ep-2f, -0x1.9bcfdp-2f, -0x1.9ae342p-2f, -0x1.9a6d1ap-2f,
      -0x1.988454p-1f, -0x1.83fb2ap-1f, -0x1.807da6p-1f, -0x1.7d2034p-1f,
      -0x1.784cdep-1f, -0x1.71d414p-1f, -0x1.6beaf8p-1f, -0x1.6645d2p-1f,
      -0x1.5e7d6ap-1f, -0x1.5432f6p-1f, -0x1.4b2a0cp-1f, -0x1.42c65p-1f,
      -0x1.380f9cp-1f, -0x1.2abbdep-1f, -0x1.1fda6ep-1f, -0x1.16a224p-1f,
      -0x1.0b3622p-1f, -0x1.fedafep-2f, -0x1.ec57eap-2f, -0x1.ded0b8p-2f},
     {0x1.190b4ep-6f, 0x1.6e50eap-7f, 0x1.f60abp-8f, 0x1.601c7ap-8f,
      0x1.c3ba28p-9f, 0x1.067fd6p-9f, 0x1.4f23a4p-10f, 0x1.c0d7b6p-11f,
      0x1.0b9902p-11f, 0x1.2bb4c8p-12f, 0x1.6f4f4ep-13f, 0x1.0a137p-13f,
      0x1.0000b6p-2f, 0x1.bf3ddp-3f, 0x1.b46418p-3f, 0x1.a9fb1p-3f,
      0x1.9b1f6ap-3f, 0x1.875d76p-3f, 0x1.75795ap-3f, 0x1.648a4ap-3f,
      0x1.4d6ffp-3f, 0x1.2f5a9p-3f, 0x1.15681ep-3f, 0x1.fb74dap-4f,
      0x1.c03d3ep-4f, 0x1.78bd1ep-4f, 0x1.405b9cp-4f, 0x1.122812p-4f,
      0x1.b6665ap-5f, 0x1.4b266cp-5f, 0x1.f83ab4p-6f, 0x1.8b9f94p-6f},
     {-0x1.4ec1cap-8f, -0x1.8628a6p-9f, -0x1.e2c38ep-10f, -0x1.3280bcp-10f,
      -0x1.59bb2cp-11f, -0x1.559b0ep-12f, -0x1.7c232ap-13f, -0x1.c1571ep-14f,
      -0x1.c647f6p-15f, -0x1.a57f4ep-16f, -0x1.b9cf04p-17f, -0x1.1c970ep-17f,
      -0x1.108d04p-3f, -0x1.cb7476p-4f, -0x1.bd218p-4f, -0x1.b75132p-4f,
      -0x1.a3b898p-4f, -0x1.8b1278p-4f, -0x1.77a9f8p-4f, -0x1.6141d4p-4f,
      -0x1.480964p-4f, -0x1.24d2b4p-4f, -0x1.07a98ap-4f, -0x1.da1c88p-5f,
      -0x1.97c3fcp-5f, -0x1.4adf04p-5f, -0x1.0ff46cp-5f, -0x1.c27076p-6f,
      -0x1.56a522p-6f, -0x1.e5c95ap-7f, -0x1.5ae6b4p-7f, -0x1.00a314p-7f},
     {0x1.797c38p-10f, 0x1.8cb44cp-11f, 0x1.bd2114p-12f, 0x1.013decp-12f,
      0x1.036494p-13f, 0x1.b60fap-15f, 0x1.a9a21ep-16f, 0x1.bdf3bep-17f,
      0x1.834276p-18f, 0x1.29f43ep-19f, 0x1.0861dap-20f, 0x1.45a238p-21f,
      0x1.05e248p-4f, -0x1.40a144p-6f, -0x1.b1c97cp-11f, -0x1.9fb892p-8f,
      0x1.9c222ep-5f, 0x1.3b4a1cp-5f, 0x1.7050e8p-5f, 0x1.31480ep-5f,
      0x1.212ef2p-5f, 0x1.fe8d16p-6f, 0x1.c17544p-6f, 0x1.9171a6p-6f,
      0x1.4e60dap-6f, 0x1.08ef7cp-6f, 0x1.a024bap-7f, 0x1.502e1ep-7f,
      0x1.ec4322p-8f, 0x1.497c2p-8f, 0x1.bc60ccp-9f, 0x1.376d1ap-9f},
     {-0x1.914744p-12f, -0x1.80ea2ap-13f, -0x1.60ada4p-14f, -0x1.79ed88p-15f,
      -0x1.713796p-16f, -0x1.141f4cp-17f, -0x1.ca1982p-19f, -0x1.85c2dep-20f,
      -0x1.4bb598p-21f, -0x1.ecfb9p-23f, -0x1.0cb5f4p-24f, -0x1.2c462cp-22f,
      -0x1.0ca87ap-5f, -0x1.9fe6f8p+3f, -0x1.127218p+4f, 0x1.4545fap+1f,
      -0x1.e84d7ap-2f, -0x1.26b8dep+0f, 0x1.8e6c76p-2f, -0x1.5e0a24p+0f,
      0x1.7b19c4p-6f, -0x1.9087fap-6f, 0x1.293b3p-4f, 0x1.5a9382p-4f,
      -0x1.ce4f2ep-8f, -0x1.43d218p-8f, -0x1.3a1d9ap-8f, -0x1.cf24fap-11f,
      -0x1.691afp-9f, -0x1.c3d14p-10f, -0x1.2d2d0ap-10f, -0x1.983914p-11f}}});
// clang-format on
// kNearForward: degree 7, max relative error: 8.324e-09
// clang-format off
inline constexpr NearTable kNearForward = make_near_table({
    {0x0p+0f, 0x1.9e7092p-1f, 0x1.6da75cp+0f, 0x1.ef8cf6p+0f,
      0x1.2fac88p+1f, 0x1.6278a4p+1f, 0x1.9024f6p+1f, 0x1.bb064ap+1f,
      0x1.e483fap+1f, 0x1.043bf6p+2f, 0x1.15dfbap+2f, 0x1.2870cep+2f,
      0x1.37335p+2f, 0x1.478b32p+2f, 0x1.562006p+2f, 0x1.65846cp+2f,
      0x1.73d0b2p+2f, 0x1.811156p+2f, 0x1.8fb55cp+2f, 0x1.9c0018p+2f,
      0x1.a8616p+2f, 0x1.b54f3cp+2f, 0x1.c34d02p+2f, 0x1.cd79f2p+2f,
      0x1.d8c8ccp+2f, 0x1.e43fe4p+2f, 0x1.ef68b2p+2f, 0x1.fb32d8p+2f,
      0x1.02a6d8p+3f, 0x1.09d76cp+3f, 0x1.0ca0d8p+3f, 0x1.1212bcp+3f},
    {{-0x0p+0f, -0x1.5aaedp-3f, -0x1.c021cap-4f, -0x1.a36d0ep-5f,
      -0x1.576d52p-6f, -0x1.fdc3c2p-8f, -0x1.6ae1cp-9f, -0x1.e80ea4p-11f,
      -0x1.30b4bap-12f, -0x1.978ed8p-14f, -0x1.0160b4p-15f, -0x1.19956ep-17f,
      -0x1.7a3aa2p-19f, -0x1.a883f4p-21f, -0x1.027c3ap-22f, -0x1.16699p-24f,
      -0x1.387cd6p-26f, -0x1.7009d4p-28f, -0x1.6abe5ap-30f, -0x1.add3fep-32f,
      -0x1.e65de8p-34f, -0x1.f3efdap-36f, -0x1.b6e838p-38f, -0x1.1ab7a4p-39f,
      -0x1.37abbep-41f, -0x1.46e224p-43f, -0x1.588026p-45f, -0x1.45c466p-47f,
      -0x1.7074fp-49f, -0x1.d3e33cp-52f, -0x1.c45094p-53f, -0x1.abab58p-55f},
     {-0x1p-1f, 0x1.8273dcp-6f, 0x1.07e96ap-3f, 0x1.7972a6p-4f,
      0x1.886f1ap-5f, 0x1.592b54p-6f, 0x1.177b38p-7f, 0x1.a20004p-9f,
      0x1.1e34ecp-10f, 0x1.9bead8p-12f, 0x1.161a5cp-13f, 0x1.44e62p-15f,
      0x1.ca68cep-17f, 0x1.0ee792p-18f, 0x1.58b828p-20f, 0x1.841f8ap-22f,
      0x1.c528aep-24f, 0x1.146c36p-25f, 0x1.1adadep-27f, 0x1.59842cp-29f,
      0x1.92c1f6p-31f, 0x1.aaa69cp-33f, 0x1.82967ep-35f, 0x1.fd4bp-37f,
      0x1.1f9f16p-38f, 0x1.34fe06p-40f, 0x1.4d2a5ap-42f, 0x1.428f6ep-44f,
      0x1.741c6ap-46f, 0x1.e5af26p-49f, 0x1.da72c4p-50f, 0x1.c9b3d4p-52f},
     {0x1.98845ap-2f, 0x1.8be686p-3f, -0x1.7a68ap-9f, -0x1.b6720cp-5f,
      -0x1.6373aap-5f, -0x1.9066d8p-6f, -0x1.7f85cap-7f, -0x1.46b6ccp-8f,
      -0x1.f2d8e2p-10f, -0x1.86783ap-11f, -0x1.1c37f4p-12f, -0x1.651c2ap-14f,
      -0x1.09e0eep-15f, -0x1.4c6678p-17f, -0x1.bb7958p-19f, -0x1.05ca48p-20f,
      -0x1.3ec55cp-22f, -0x1.93ae7p-24f, -0x1.adbf92p-26f, -0x1.0f01bcp-27f,
      -0x1.45e6e6p-29f, -0x1.64472ap-31f, -0x1.4da20ep-33f, -0x1.c1dfbp-35f,
      -0x1.048ca4p-36f, -0x1.1ef6f6p-38f, -0x1.3cdp-40f, -0x1.3a49bep-42f,
      -0x1.720988p-44f, -0x1.f0d6d2p-47f, -0x1.ea96fap-48f, -0x1.e327dcp-50f},
     {-0x1.104618p-18f, -0x1.09afd2p-3f, -0x1.12e486p-4f, -0x1.479e04p-8f,
      0x1.f8a602p-7f, 0x1.de6d7p-7f, 0x1.28cf9ep-7f, 0x1.2d644cp-8f,
      0x1.07a844p-9f, 0x1.c86888p-11f, 0x1.6a8504p-12f, 0x1.eeae1ep-14f,
      0x1.871fecp-15f, 0x1.04175ap-16f, 0x1.6d60bap-18f, 0x1.c6164cp-20f,
      0x1.213686p-21f, 0x1.7d20fp-23f, 0x1.a7276ap-25f, 0x1.14061p-26f,
      0x1.5701a4p-28f, 0x1.83949cp-30f, 0x1.77adaep-32f, 0x1.038188p-33f,
      0x1.3495ecp-35f, 0x1.5cc75cp-37f, 0x1.8a9c82p-39f, 0x1.91782ap-41f,
      0x1.e2bfcep-43f, 0x1.4db06cp-45f, 0x1.4d2a82p-46f, 0x1.4f2da4p-48f},
     {-0x1.101e8ap-4f, 0x1.eace4ap-10f, 0x1.2c69a8p-5f, 0x1.568542p-6f,
      0x1.e5c66ep-9f, -0x1.adecc4p-9f, -0x1.ff7158p-9f, -0x1.5b509cp-9f,
      -0x1.6f8e3p-10f, -0x1.69dd8ap-11f, -0x1.3fa17ep-12f, -0x1.e07bd6p-14f,
      -0x1.96f1acp-15f, -0x1.22145ap-16f, -0x1.af7784p-18f, -0x1.1b99fp-19f,
      -0x1.7b5c36p-21f, -0x1.04e9bap-22f, -0x1.2eff1ap-24f, -0x1.99c2ecp-26f,
      -0x1.079b84p-27f, -0x1.346d02p-29f, -0x1.35fee2p-31f, -0x1.b7468ep-33f,
      -0x1.0c717ap-34f, -0x1.37b56ap-36f, -0x1.69c7ccp-38f, -0x1.79d2bap-40f,
      -0x1.d0579ep-42f, -0x1.4ac208p-44f, -0x1.4e2046p-45f, -0x1.57966p-47f},
     {-0x1.6b47d4p-12f, 0x1.6475f4p-6f, -0x1.f42b9p-12f, -0x1.28fc9cp-7f,
      -0x1.7b9ebp-8f, -0x1.880fa4p-10f, 0x1.f1886cp-12f, 0x1.c0d35p-11f,
      0x1.4f6746p-11f, 0x1.8eae1p-12f, 0x1.94ed1ap-13f, 0x1.5774f4p-14f,
      0x1.3b8bb2p-15f, 0x1.e76cd8p-17f, 0x1.82fbe6p-18f, 0x1.0ecc8p-19f,
      0x1.7e24f6p-21f, 0x1.13847ep-22f, 0x1.4f5cfcp-24f, 0x1.d7b4d2p-26f,
      0x1.3b31dp-27f, 0x1.7e5a9ap-29f, 0x1.8e9b3cp-31f, 0x1.228a3ep-32f,
      0x1.6da458p-34f, 0x1.b4eaccp-36f, 0x1.046234p-37f, 0x1.16fa22p-39f,
      0x1.5f2a44p-41f, 0x1.0427c4p-43f, 0x1.08071ap-44f, 0x1.155ce6p-46f},
     {0x1.6b69b6p-7f, -0x1.b9bde4p-9f, -0x1.6a1404p-8f, -0x1.f0bac6p-14f,
      0x1.01eb98p-9f, 0x1.6d591cp-10f, 0x1.f4351p-12f, -0x1.385488p-16f,
      -0x1.4a1822p-13f, -0x1.211562p-13f, -0x1.6e16a6p-14f, -0x1.6efac2p-15f,
      -0x1.757082p-16f, -0x1.3e8004p-17f, -0x1.10f94cp-18f, -0x1.9a6924p-20f,
      -0x1.33de4ep-21f, -0x1.d33ff6p-23f, -0x1.2c26e6p-24f, -0x1.b87fdcp-26f,
      -0x1.31f03p-27f, -0x1.82fa98p-29f, -0x1.a25f4ep-31f, -0x1.3b7a08p-32f,
      -0x1.99002ep-34f, -0x1.f706b8p-36f, -0x1.343598p-37f, -0x1.5455e8p-39f,
      -0x1.b70dc6p-41f, -0x1.2b19a2p-43f, -0x1.561c22p-44f, -0x1.723c0ap-46f},
     {-0x1.d942bp-10f, -0x1.3dfeccp-9f, 0x1.4a4ab2p-10f, 0x1.3de64p-10f,
      0x1.7f61ap-13f, -0x1.e651ap-12f, -0x1.73d966p-12f, -0x1.c99de2p-14f,
      -0x1.ae8442p-17f, 0x1.944d3ap-16f, 0x1.dbd24ap-16f, 0x1.0f04bap-16f,
      0x1.443a12p-17f, 0x1.41bf44p-18f, 0x1.1b7b7ap-19f, 0x1.ce5fe4p-21f,
      0x1.7f90b6p-22f, 0x1.26bcbp-23f, 0x1.cccd38p-25f, 0x1.48da64p-26f,
      0x1.bd323ep-28f, 0x1.3bff46p-29f, 0x1.a24e04p-31f, 0x1.19156ap-32f,
      0x1.6a682cp-34f, 0x1.c03ff8p-36f, 0x1.1b29ccp-37f, 0x1.6d37c2p-39f,
      0x1.b8d4aap-41f, 0x1.0a2e48p-42f, 0x1.45a8eep-44f, 0x1.a59596p-46f}}});
// clang-format on

// The tanh near table (kTanhNearDerivative): for the 32 intervals of y
// selected by tanh_near_index() in gelu_math.h (uniform in
// y (5/4 + y (1/8 + y 213/8192)), y <= 8), the centre and the coefficients
// c0..c7 of a polynomial in d = y - centre for w(y) = f'(-y), f' float32
// tanh GELU's derivative, the whole of it on the CPU for x >= -8:
// f' = 1 - w(yc) for x > 0 and w(yc) for x <= 0, yc = min(|x|, 8).
// Interval 0 (y < 0.384) is expanded at 0 (c0 = 1/2); interval 1 at the
// float nearest the root of f' (y ~ 0.7525). tools/fit_coefficients.py fits
// it (max relative error 5.78e-08).
// clang-format off
inline constexpr NearTable kTanhNearDerivative = make_near_table({
    {0x0p+0f, 0x1.8142ap-1f, 0x1.59cb44p+0f, 0x1.e32146p+0f,
      0x1.2fbc58p+1f, 0x1.642b9ap+1f, 0x1.93095ep+1f, 0x1.bddbe2p+1f,
      0x1.e718b6p+1f, 0x1.05d444p+2f, 0x1.16da34p+2f, 0x1.29c138p+2f,
      0x1.375c2ep+2f, 0x1.44841p+2f, 0x1.533e1p+2f, 0x1.6027dp+2f,
      0x1.6cf3bcp+2f, 0x1.79de2cp+2f, 0x1.82da6ap+2f, 0x1.902994p+2f,
      0x1.99a45cp+2f, 0x1.a56254p+2f, 0x1.aed712p+2f, 0x1.b8646p+2f,
      0x1.c29952p+2f, 0x1.cb1a64p+2f, 0x1.d4471p+2f, 0x1.dc73dep+2f,
      0x1.e4fcf6p+2f, 0x1.ecc6a4p+2f, 0x1.f5d8eep+2f, 0x1.fd968cp+2f},
    {{0x1p-1f, -0x1.4f6404p-28f, -0x1.06294ep-3f, -0x1.91e43cp-4f,
      -0x1.8ca0f8p-5f, -0x1.4c9b5cp-6f, -0x1.f083c8p-8f, -0x1.50c594p-9f,
      -0x1.8f8f86p-11f, -0x1.d339b2p-13f, -0x1.034e88p-14f, -0x1.a8500cp-17f,
      -0x1.e436a8p-19f, -0x1.065862p-20f, -0x1.b2741p-23f, -0x1.8a5f4p-25f,
      -0x1.491c9cp-27f, -0x1.e8f9bcp-30f, -0x1.1cea0ep-31f, -0x1.4d243cp-34f,
      -0x1.3b344cp-36f, -0x1.8447d4p-39f, -0x1.40e9p-41f, -0x1.e92abcp-44f,
      -0x1.3517b6p-46f, -0x1.f4c3eep-49f, -0x1.503f62p-51f, -0x1.038f6p-53f,
      -0x1.6049eap-56f, -0x1.09629ap-58f, -0x1.1d49dep-61f, -0x1.86125ep-64f},
     {-0x1.988454p-1f, -0x1.b8bacep-2f, -0x1.e70e1ep-6f, 0x1.aaf2f8p-4f,
      0x1.69b31cp-4f, 0x1.926c28p-5f, 0x1.708564p-6f, 0x1.26cb6cp-7f,
      0x1.947ea8p-9f, 0x1.0ab8e2p-10f, 0x1.491cccp-12f, 0x1.2d045p-14f,
      0x1.72e268p-16f, 0x1.afb286p-18f, 0x1.822e5ep-20f, 0x1.764a72p-22f,
      0x1.4ca86ap-24f, 0x1.06da7p-26f, 0x1.3f6becp-28f, 0x1.8ccefp-31f,
      0x1.879636p-33f, 0x1.fb9d6cp-36f, 0x1.b4bf6ap-38f, 0x1.5a667p-40f,
      0x1.c86e3ep-43f, 0x1.7e965cp-45f, 0x1.0a60f2p-47f, 0x1.a88896p-50f,
      0x1.29abacp-52f, 0x1.cdda52p-55f, 0x1.00c1cep-57f, 0x1.692768p-60f},
     {0x1.44eaacp-20f, 0x1.8cd196p-2f, 0x1.df3b34p-3f, 0x1.f398e2p-6f,
      -0x1.7108fep-5f, -0x1.6d11f2p-5f, -0x1.c35264p-6f, -0x1.beda86p-7f,
      -0x1.6d92ecp-8f, -0x1.154878p-9f, -0x1.81ce34p-11f, -0x1.8f73p-13f,
      -0x1.0ba9cap-14f, -0x1.50b83ap-16f, -0x1.4759a6p-18f, -0x1.5445e4p-20f,
      -0x1.4356a6p-22f, -0x1.10b248p-24f, -0x1.5a4fbap-26f, -0x1.ca6734p-29f,
      -0x1.d8b43ap-31f, -0x1.431934p-33f, -0x1.21d7ep-35f, -0x1.df26ccp-38f,
      -0x1.499b08p-40f, -0x1.1e332p-42f, -0x1.9db54cp-45f, -0x1.54a0fp-47f,
      -0x1.edfe6ep-50f, -0x1.8af64ep-52f, -0x1.c6962cp-55f, -0x1.49202ep-57f},
     {0x1.11ab84p-2f, 0x1.029feep-6f, -0x1.24f4e8p-3f, -0x1.75e7f8p-4f,
      -0x1.19b25ep-6f, 0x1.96c6b2p-7f, 0x1.06cc2ap-6f, 0x1.6c9a92p-7f,
      0x1.79f30cp-8f, 0x1.550834p-9f, 0x1.1181b6p-10f, 0x1.46698cp-12f,
      0x1.e0a8b6p-14f, 0x1.496c74p-15f, 0x1.5eb048p-17f, 0x1.892762p-19f,
      0x1.9154f6p-21f, 0x1.6ac848p-23f, 0x1.e2b544p-25f, 0x1.55923cp-27f,
      0x1.70d97ap-29f, 0x1.0a841cp-31f, 0x1.f36d8p-34f, 0x1.aeea0cp-36f,
      0x1.3601cap-38f, 0x1.172e76p-40f, 0x1.a371d4p-43f, 0x1.6530a6p-45f,
      0x1.0c1e58p-47f, 0x1.ba3cfcp-50f, 0x1.07b3p-52f, 0x1.89639ap-55f},
     {0x1.8f79a8p-13f, -0x1.d2a1acp-4f, -0x1.376fe4p-7f, 0x1.5b7d14p-5f,
      0x1.d3e626p-6f, 0x1.13b172p-7f, -0x1.019442p-9f, -0x1.268dd4p-8f,
      -0x1.ce0c24p-9f, -0x1.0a5b58p-9f, -0x1.003268p-10f, -0x1.6abf98p-12f,
      -0x1.29e11ep-13f, -0x1.c1fc3ep-15f, -0x1.08f332p-16f, -0x1.42af32p-18f,
      -0x1.63fcb8p-20f, -0x1.5aad34p-22f, -0x1.e4e168p-24f, -0x1.70424cp-26f,
      -0x1.a1884cp-28f, -0x1.3fc94p-30f, -0x1.3993cap-32f, -0x1.1af3fap-34f,
      -0x1.aa870ep-37f, -0x1.8ef0e4p-39f, -0x1.37e40ep-41f, -0x1.130c68p-43f,
      -0x1.abe80cp-46f, -0x1.6c6e76p-48f, -0x1.c29a2ap-51f, -0x1.5aa36p-53f},
     {-0x1.fc84e6p-5f, 0x1.0f1b12p-6f, 0x1.24e13ap-5f, 0x1.721bb6p-9f,
      -0x1.54b744p-7f, -0x1.09aep-7f, -0x1.ac4234p-9f, -0x1.a9b394p-14f,
      0x1.0c416ep-10f, 0x1.f90f4ep-11f, 0x1.3ff6p-11f, 0x1.1b97cep-12f,
      0x1.0a2e1ep-13f, 0x1.c2db7ep-15f, 0x1.29df5ap-16f, 0x1.8e1bfp-18f,
      0x1.de6efep-20f, 0x1.f8b802p-22f, 0x1.752504p-23f, 0x1.313918p-25f,
      0x1.6d1fb6p-27f, 0x1.28bc5p-29f, 0x1.31a9acp-31f, 0x1.21358ep-33f,
      0x1.c8bbbcp-36f, 0x1.bd5166p-38f, 0x1.6aa174p-40f, 0x1.4c214cp-42f,
      0x1.0c0fa2p-44f, 0x1.d83958p-47f, 0x1.2e6b9cp-49f, 0x1.df0d52p-52f},
     {0x1.0e4f42p-9f, 0x1.3b7beep-6f, -0x1.eb9ab4p-8f, -0x1.18265p-7f,
      -0x1.c98824p-11f, 0x1.0d32acp-9f, 0x1.0ba744p-9f, 0x1.13b8e4p-10f,
      0x1.7e90dep-13f, -0x1.76a96ap-13f, -0x1.e02df6p-13f, -0x1.314fap-13f,
      -0x1.58db76p-14f, -0x1.5183acp-15f, -0x1.00e8d4p-16f, -0x1.7e9d68p-18f,
      -0x1.fb5baap-20f, -0x1.24ab76p-21f, -0x1.c553ep-23f, -0x1.99042p-25f,
      -0x1.015d5cp-26f, -0x1.c18882p-29f, -0x1.e7d548p-31f, -0x1.e4c394p-33f,
      -0x1.935f92p-35f, -0x1.99f1cep-37f, -0x1.5d4d0ap-39f, -0x1.4a728p-41f,
      -0x1.156e8ep-43f, -0x1.f3a1c2p-46f, -0x1.52da96p-48f, -0x1.10f09ep-50f},
     {0x1.fe411ap-8f, -0x1.2f4b8p-8f, -0x1.05a914p-8f, 0x1.22358ep-9f,
      0x1.f01c84p-10f, 0x1.0d4a56p-11f, -0x1.86ec48p-13f, -0x1.ea1744p-12f,
      -0x1.2b8b8cp-12f, -0x1.d33e84p-15f, 0x1.10bc3ep-16f, 0x1.851cbep-15f,
      0x1.274342p-15f, 0x1.604d98p-16f, 0x1.5053bep-17f, 0x1.175deap-18f,
      0x1.a1aa9ap-20f, 0x1.22a544p-21f, 0x1.7d7412p-23f, 0x1.cbf73cp-25f,
      0x1.0b490ap-26f, 0x1.2647a8p-28f, 0x1.375526p-30f, 0x1.3d204ep-32f,
      0x1.37c34p-34f, 0x1.288b2ap-36f, 0x1.12975ep-38f, 0x1.ed8a1p-41f,
      0x1.b12c4ep-43f, 0x1.74e032p-45f, 0x1.3685dap-47f, 0x1.2dfcbep-49f}}});
// clang-format on

// The tanh forward's near table (kTanhNearForward): for the 31 intervals of
// y selected by tanh_forward_near_index() in gelu_math.h (uniform in
// y (5/4 + y (3/16 + y 9/256)), y <= 7; the 32nd is never selected), the
// centre and the coefficients c0..c7 of a polynomial in d = y - centre for
// T(y) = f(-y) = -y sigma(-2u(y)), the whole of float32 tanh GELU for
// x >= -7 (CPU and CUDA): f = T(yc) + max(-0, x), yc = min(|x|, 7).
// Interval 0 (y < 0.377) is expanded at 0 with c0 = -0, so that
// f(-0) = -0. tools/fit_coefficients.py fits it (max relative error
// 5.77e-09).
// clang-format off
inline constexpr NearTable kTanhNearForward = make_near_table({
    {0x0p+0f, 0x1.64cf86p-1f, 0x1.47527ep+0f, 0x1.c389ep+0f,
      0x1.175898p+1f, 0x1.45790ap+1f, 0x1.706f1p+1f, 0x1.96b46cp+1f,
      0x1.ba90f8p+1f, 0x1.d9932ap+1f, 0x1.f798a2p+1f, 0x1.0a2a6ep+2f,
      0x1.1806a6p+2f, 0x1.24e026p+2f, 0x1.30f5a2p+2f, 0x1.3c3aa8p+2f,
      0x1.46f4ecp+2f, 0x1.523a62p+2f, 0x1.5bf132p+2f, 0x1.666e08p+2f,
      0x1.7069d8p+2f, 0x1.78b11cp+2f, 0x1.81c172p+2f, 0x1.89edc6p+2f,
      0x1.92d2eap+2f, 0x1.9b612ap+2f, 0x1.a16a64p+2f, 0x1.a8f794p+2f,
      0x1.b2a15ep+2f, 0x1.b86a2p+2f, 0x1.bd897ep+2f, 0x1.c2445ap+2f},
    {{-0x0p+0f, -0x1.5ad66p-3f, -0x1.07aeacp-3f, -0x1.19468p-4f,
      -0x1.01e346p-5f, -0x1.bb59eep-7f, -0x1.5b86bcp-8f, -0x1.08f974p-9f,
      -0x1.7d33fap-11f, -0x1.1d3f62p-12f, -0x1.917928p-14f, -0x1.0e010ap-15f,
      -0x1.59b65ep-17f, -0x1.bbbec6p-19f, -0x1.1b13dep-20f, -0x1.6cd53cp-22f,
      -0x1.d2a27ap-24f, -0x1.074e68p-25f, -0x1.4e44e4p-27f, -0x1.6c5578p-29f,
      -0x1.8ddaf6p-31f, -0x1.02fa46p-32f, -0x1.209e48p-34f, -0x1.5cb478p-36f,
      -0x1.68c598p-38f, -0x1.7604dcp-40f, -0x1.181448p-41f, -0x1.3c681ap-43f,
      -0x1.d9903ep-46f, -0x1.5061fp-47f, -0x1.0797b2p-48f, -0x1.b45ab4p-50f},
     {-0x1p-1f, -0x1.9b5f28p-6f, 0x1.fe53fp-4f, 0x1.c3ef28p-4f,
      0x1.114816p-4f, 0x1.1cee3p-5f, 0x1.060228p-6f, 0x1.c7ba9ap-8f,
      0x1.704ffcp-9f, 0x1.2f759ep-10f, 0x1.d336d8p-12f, 0x1.5566c8p-13f,
      0x1.d85ad8p-15f, 0x1.450becp-16f, 0x1.ba0b74p-18f, 0x1.2de1aep-19f,
      0x1.9789dp-21f, 0x1.e62494p-23f, 0x1.435b66p-24f, 0x1.72514ep-26f,
      0x1.a77d98p-28f, 0x1.1e3948p-29f, 0x1.4c281cp-31f, 0x1.9ff958p-33f,
      0x1.bf3bd8p-35f, 0x1.e0d4acp-37f, 0x1.714bbcp-38f, 0x1.ae7396p-40f,
      0x1.4f1318p-42f, 0x1.e739c2p-44f, 0x1.85aa1cp-45f, 0x1.489b9ep-46f},
     {0x1.988456p-2f, 0x1.e4992ep-3f, 0x1.0d2738p-5f, -0x1.79c128p-5f,
      -0x1.a4d638p-5f, -0x1.270caep-5f, -0x1.4f7c02p-6f, -0x1.574c34p-7f,
      -0x1.3e8492p-8f, -0x1.25447ap-9f, -0x1.f3d1fcp-11f, -0x1.90a71cp-12f,
      -0x1.2de45ep-13f, -0x1.c05dfep-15f, -0x1.46b486p-16f, -0x1.daffeep-18f,
      -0x1.53b31ep-19f, -0x1.addf18p-21f, -0x1.2c77bcp-22f, -0x1.6a918ep-24f,
      -0x1.b344fep-26f, -0x1.3205d6p-27f, -0x1.728064p-29f, -0x1.e1b7e6p-31f,
      -0x1.0d8ad4p-32f, -0x1.2cf6p-34f, -0x1.da9bdcp-36f, -0x1.1db7c6p-37f,
      -0x1.cf5572p-40f, -0x1.590eb2p-41f, -0x1.19d64ep-42f, -0x1.e498a4p-44f},
     {-0x1.0652p-19f, -0x1.054a82p-3f, -0x1.692bd8p-4f, -0x1.73cfep-6f,
      0x1.352a2p-7f, 0x1.0dae6cp-6f, 0x1.bb7b4ep-7f, 0x1.1deea6p-7f,
      0x1.3d0d2ep-8f, 0x1.4e62cep-9f, 0x1.414dcep-10f, 0x1.1e8cb6p-11f,
      0x1.dba218p-13f, 0x1.807d56p-14f, 0x1.2e557ap-15f, 0x1.d6956p-17f,
      0x1.66489ep-18f, 0x1.e320a8p-20f, 0x1.6417dap-21f, 0x1.c64604p-23f,
      0x1.1f1558p-24f, 0x1.a4d806p-26f, 0x1.0a5ef6p-27f, 0x1.683912p-29f,
      0x1.a4600cp-31f, 0x1.e846a8p-33f, 0x1.8bae8ep-34f, 0x1.ecbe26p-36f,
      0x1.a0ccfp-38f, 0x1.3e393cp-39f, 0x1.09a6ecp-40f, 0x1.d1f3acp-42f},
     {-0x1.119096p-4f, -0x1.5494dap-7f, 0x1.1b6604p-5f, 0x1.c88756p-6f,
      0x1.5c682ep-7f, 0x1.b1d0f6p-13f, -0x1.e9517p-9f, -0x1.02adf6p-8f,
      -0x1.7bbc2ap-9f, -0x1.e2ac4ap-10f, -0x1.0e50cp-10f, -0x1.127e7p-11f,
      -0x1.fe7c8ep-13f, -0x1.c6ee52p-14f, -0x1.85d38ep-15f, -0x1.474cacp-16f,
      -0x1.0af94p-17f, -0x1.81cfdep-19f, -0x1.2d2b84p-20f, -0x1.97e168p-22f,
      -0x1.1055b6p-23f, -0x1.a14ae2p-25f, -0x1.14e40ep-26f, -0x1.86508cp-28f,
      -0x1.dc03fep-30f, -0x1.202382p-31f, -0x1.e09314p-33f, -0x1.35f2d8p-34f,
      -0x1.11fc0ep-36f, -0x1.ad516p-38f, -0x1.6ea7d6p-39f, -0x1.4831b6p-40f},
     {-0x1.e4149cp-13f, 0x1.815508p-6f, 0x1.2c897cp-8f, -0x1.f8a286p-8f,
      -0x1.e9f748p-8f, -0x1.00e56cp-8f, -0x1.00bd9ep-10f, 0x1.fae606p-12f,
      0x1.d31f12p-11f, 0x1.a6ec9ep-11f, 0x1.297a0ap-11f, 0x1.6824p-12f,
      0x1.83619ep-13f, 0x1.83796p-14f, 0x1.6f6b4ap-15f, 0x1.511228p-16f,
      0x1.28cf8cp-17f, 0x1.cf407ap-19f, 0x1.81037cp-20f, 0x1.162976p-21f,
      0x1.8a5c32p-23f, 0x1.3ce6a2p-24f, 0x1.ba5a62p-26f, 0x1.45d838p-27f,
      0x1.a03b1p-29f, 0x1.07085p-30f, 0x1.c4d5a2p-32f, 0x1.2f0736p-33f,
      0x1.17f046p-35f, 0x1.c3a79ap-37f, 0x1.882caep-38f, 0x1.671d84p-39f},
     {0x1.6ad6ap-7f, -0x1.90113p-10f, -0x1.a0e64ep-8f, -0x1.b447f4p-10f,
      0x1.529bb2p-10f, 0x1.bf93a8p-10f, 0x1.2d8e8cp-10f, 0x1.fcad2ep-12f,
      0x1.a8910cp-15f, -0x1.29b0f2p-13f, -0x1.742242p-13f, -0x1.32df4ap-13f,
      -0x1.99f834p-14f, -0x1.de6564p-15f, -0x1.02079p-15f, -0x1.076c84p-16f,
      -0x1.fa855p-18f, -0x1.b133bp-19f, -0x1.81c974p-20f, -0x1.2b8bb8p-21f,
      -0x1.c52bep-23f, -0x1.80af2ap-24f, -0x1.1b909ep-25f, -0x1.b614f4p-27f,
      -0x1.2625aap-28f, -0x1.844af8p-30f, -0x1.579fdep-31f, -0x1.dd4edcp-33f,
      -0x1.d0078cp-35f, -0x1.82f6f8p-36f, -0x1.1df41ep-37f, -0x1.4d535ep-38f},
     {-0x1.ae16p-10f, -0x1.898232p-9f, 0x1.9c765cp-11f, 0x1.55676ap-10f,
      0x1.756d4ap-14f, -0x1.05f324p-12f, -0x1.0dfac8p-15f, -0x1.5ba284p-12f,
      -0x1.f4c7dap-15f, -0x1.f09718p-14f, 0x1.a7c41ep-16f, 0x1.51b33cp-15f,
      0x1.6968a6p-16f, 0x1.010736p-15f, 0x1.24ba44p-16f, 0x1.070cb8p-17f,
      0x1.46f2cap-18f, 0x1.3e0692p-19f, 0x1.39b90ep-20f, 0x1.1832ep-21f,
      0x1.bf235ap-23f, 0x1.7b4e52p-24f, 0x1.2839c4p-25f, 0x1.d80f8ep-27f,
      0x1.5ef5b6p-28f, 0x1.03b706p-29f, 0x1.7d10aep-31f, 0x1.0ff0f8p-32f,
      0x1.6f50eap-34f, 0x1.f2403ap-36f, -0x1.bf521ap-38f, 0x1.4156c8p-37f}}});
// clang-format on

// The tables where the running code can read them: CUDA device code reads a
// copy in global memory (each 32-float array is one 128-byte line, so a
// warp's lookup of one term is one cached transaction, whatever the lanes'
// intervals), host code the constants above.
#if defined(__CUDACC__)
static __device__ const TailTable kTailForwardDevice = kTailForward;
static __device__ const TailTable kTailDerivativeDevice = kTailDerivative;
static __device__ const NearTable kTanhNearDerivativeDevice = kTanhNearDerivative;
static __device__ const NearTable kTanhNearForwardDevice = kTanhNearForward;
#define GELU_EXT_TAIL_HD static __host__ __device__ __forceinline__
#else
#define GELU_EXT_TAIL_HD inline
#endif
GELU_EXT_TAIL_HD const TailTable& tail_forward_table() {
#if defined(__CUDA_ARCH__)
  return kTailForwardDevice;
#else
  return kTailForward;
#endif
}
GELU_EXT_TAIL_HD const TailTable& tail_derivative_table() {
#if defined(__CUDA_ARCH__)
  return kTailDerivativeDevice;
#else
  return kTailDerivative;
#endif
}
// The tanh near tables serve float32 tanh GELU on both devices, so their
// results there are the same bits.
GELU_EXT_TAIL_HD const NearTable& tanh_derivative_near_table() {
#if defined(__CUDA_ARCH__)
  return kTanhNearDerivativeDevice;
#else
  return kTanhNearDerivative;
#endif
}
GELU_EXT_TAIL_HD const NearTable& tanh_forward_near_table() {
#if defined(__CUDA_ARCH__)
  return kTanhNearForwardDevice;
#else
  return kTanhNearForward;
#endif
}
#undef GELU_EXT_TAIL_HD
// The exact forward's near table runs on the CPU only (CUDA keeps the tail
// form, see gelu_exact_tables in gelu_math.h).
inline const NearTable& near_forward_table() { return kNearForward; }

}  // namespace math
}  // namespace gelu_ext
