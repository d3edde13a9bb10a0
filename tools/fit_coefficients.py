"""Fit the coefficients used by csrc/gelu_math.h, csrc/gelu_tail_tables.h and
csrc/gelu_math_f64.h.

Run:  python tools/fit_coefficients.py            (float32 and 16-bit fits)
      python tools/fit_coefficients.py --float64  (csrc/gelu_math_f64.h)
      python tools/fit_coefficients.py --device   (csrc/gelu_math_device.h)

Near-minimax fits in *relative* error (Lawson's iteratively reweighted least
squares on a dense Chebyshev grid), coefficients rounded to the compute type
one at a time with the others refitted after each rounding:

* float32 exact GELU (every backend): ``2^r`` on |r| <= 1/2 as 1 + r Q(r)
  (``fit_exp2_precise``), and the piecewise tail tables of
  csrc/gelu_tail_tables.h (``fit_tail_table``; see the comment above it);
  the script prints the tables as they appear in that header;
* the range-reduced ``exp(r)`` on |r| <= ln(2)/2 (``fit_exp``), used by the
  tanh forms;
* the 16-bit types' exact GELU: ``2^r`` on |r| <= 1/2 as 1 + r S(r)
  (``fit_exp2``) and ``R(y)`` on [0, 16] as a rational P(y) / Q(y)
  (``fit_rational``; degrees 2/3 forward, 3/4 derivative);
* float64 on the CPU (``--float64``): in mpmath throughout (see that section).

The reference values come from mpmath at 40 digits. (The rational forms of R
that float32 used before the tail tables, and their fits, are in the git
history.)
"""

import math

import mpmath
import numpy as np

mpmath.mp.dps = 40


def lawson(basis, target, weight, iters=60):
    """Weighted minimax fit: minimise max |weight * (basis @ c - target)|."""
    w = np.ones(len(target))
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(basis * (sw * weight)[:, None], target * sw * weight, rcond=None)
        err = np.abs(weight * (basis @ c - target))
        w = w * err
        w /= w.sum()
    return c, err.max()


def fit_exp(degree=6):
    n = 4000
    h = math.log(2) / 2
    r = h * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    exact = np.array([float(mpmath.exp(v)) for v in r])
    # e^r = 1 + r + r^2 Q(r): fit Q with weight r^2 / e^r (relative error of e^r).
    target = np.array([float((mpmath.exp(v) - 1 - v) / v**2) for v in r])
    basis = np.vander(r, degree - 1, increasing=True)
    c, err = lawson(basis, target, r**2 / exact)
    return c, err


def g_of_y(y):
    y = mpmath.mpf(y)
    a = y / mpmath.sqrt(2)
    return (1 + mpmath.sqrt(2) * y) * mpmath.erfc(a) * mpmath.exp(a * a) / 2


def fit_exp2(degree=4):
    """2^r on |r| <= 1/2 as 1 + r S(r), S of degree - 1, near-minimax in
    relative error (the 16-bit types' exact GELU, exp_half_sq_coarse)."""
    n = 4000
    r = 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    exact = np.array([float(mpmath.power(2, v)) for v in r])
    c, err = lawson(np.vander(r, degree, increasing=True), (exact - 1) / r, r / exact, iters=100)
    return c, err


def _r_of_y(v):
    return g_of_y(v) / (1 + mpmath.sqrt(2) * v)


def fit_rational_fn(fn, m, d, ymax, iters=300, n=3000):
    """fn on [0, ymax] as P/Q, degrees m/d, Q(0) = 1, near-minimax in relative
    error (Loeb's linearisation with Lawson's weights; the best iterate is
    kept). Returns P, Q (low to high, rounded to float32) and the relative
    error of the rounded rational."""
    y = (np.cos(np.pi * (np.arange(n) + 0.5) / n) + 1) / 2 * ymax
    F = np.array([float(fn(v)) for v in y])
    vd = np.vander(y, d + 1, increasing=True)[:, 1:]
    basis = np.hstack([np.vander(y, m + 1, increasing=True), -F[:, None] * vd])
    q_prev, w, best = np.ones(n), np.ones(n), None
    for _ in range(iters):
        sw = np.sqrt(w) / (F * q_prev)
        c, *_ = np.linalg.lstsq(basis * sw[:, None], F * sw, rcond=None)
        p, q = c[: m + 1], np.concatenate([[1.0], c[m + 1 :]])
        Q = np.polyval(q[::-1], y)
        err = np.abs(np.polyval(p[::-1], y) / Q / F - 1)
        if best is None or err.max() < best[0]:
            best = (err.max(), p, q)
        q_prev, w = Q, w * err / (w * err).sum()
    p, q = np.float32(best[1]).astype(float), np.float32(best[2]).astype(float)
    return p, q, np.abs(np.polyval(p[::-1], y) / np.polyval(q[::-1], y) / F - 1).max()


def fit_rational(m, d, ymax=16.0, iters=200):
    """R(y) = erfcx(y / sqrt 2) / 2 on [0, ymax] as P(y) / Q(y), degrees m and
    d, Q(0) = 1 (the 16-bit types' CPU forms)."""
    return fit_rational_fn(_r_of_y, m, d, ymax, iters=iters)


# --- float32 results on the CPU: 2^r and the piecewise tail tables -----------
#
# gelu_math.h (exp2_neg_half_sq, gelu_exact, gelu_exact_derivative) computes
# e^(-y^2/2) as (1 + s) 2^k from y^2 = h + l split exactly, with the float
# multiplier CH = float(log2(e) / 2); the rest of the exponent, 2^(-CL y^2)
# with CL = log2(e)/2 - CH, is a smooth function of y and goes into the
# tables, as does everything else that depends on y alone:
#     forward     S(y) = -y R(y) 2^(-CL y^2),        f = x + S (1 + s) 2^k (x > 0)
#     derivative  D(y) = (R(y) - y C0) 2^(-CL y^2),  Phi(-y) - y phi(y) = D (1 + s) 2^k
# Each is a polynomial of degree TAIL_DEGREE in d = y - centre on 32
# intervals of y, indexed by the bits of y: the exponent's low three bits
# and the top two bits of the significand, i.e. [2^e (1 + m/4), 2^e (1 +
# (m+1)/4)) for e in -4..3, m in 0..3, with everything below 1/16 in the
# first interval, which then starts at 0 (centre 0, where S is y times a
# polynomial). The centre of each interval is a float near its middle at
# which the function is within 2^-10 ulp of a float, so the constant term is
# (almost) exact; the other coefficients are rounded to float one at a time
# from the low end, refitting the higher ones after each rounding.

LOG2E_HALF_HI = float(np.float32(1 / (2 * math.log(2))))
TAIL_DEGREE = 5
TAIL_YMAX = 15.0  # Clamp<float>::kExact
TAIL_FLOOR_IDX = 12  # the interval of 1/16 (index of its bits), which starts at 0


# float32 exact GELU for x >= -NEAR_END (every backend): T(y) = -y Phi(-y)
# directly, so that f = T(yc) + max(-0, x), yc = min(|x|, NEAR_END), needs no
# exponential (for x > NEAR_END, T(yc) is far below half an ulp of x, so
# f = x), and for x < 0 is T itself, rounded once. T is a polynomial of
# degree NEAR_DEGREE in d = y - centre on 32 intervals of y, uniform in
# g(y) = 5 y (y + 3) / 16, whose spacing (about 1.6 / (y + 3/2)) narrows as
# T's logarithmic slope (about y) grows: interval n holds the y with
# rint(g(y)) = n, computed in float as fma(fma(y, 5/16, 15/16), y,
# 1.5 * 2^23), whose low five bits are n (near_index in gelu_math.h). Each
# interval is fitted a little beyond its exact ends (2^-20 relative), which
# covers the roundings of that computation. Interval 0 ([0, 0.46]) is
# expanded at 0 (c0 = -0, so that f(-0) = -0, and d = y: T is y times a
# polynomial there); every other centre is chosen as for the tail tables, and
# d = y - centre is exact (y lies within a factor 2 of the centre).
NEAR_DEGREE = 7
NEAR_END = 8.625  # g(8.625) = 31.3: every y up to it has n <= 31


def near_t(y):
    y = mpmath.mpf(y)
    return -y * mpmath.ncdf(-y)


def near_interval(idx):
    """[lo, hi] of y for near-table interval idx (rint(g(y)) = idx)."""

    def inv(g):  # the y >= 0 with 5 y (y + 3) / 16 = g
        return (-3 + math.sqrt(9 + 64 * g / 5)) / 2

    lo = 0.0 if idx == 0 else inv(idx - 0.5) * (1 - 2.0**-20)
    return lo, min(inv(idx + 0.5) * (1 + 2.0**-20), NEAR_END)


# float32 tanh GELU's derivative for x >= -TANH_NEAR_END (the CPU): with
# w(y) = f'(-y), f' = 1 - w(yc) for x > 0 and w(yc) for x <= 0 (f'(-x) =
# 1 - f'(x)), yc = min(|x|, TANH_NEAR_END); for x > TANH_NEAR_END, 1 - w(yc)
# rounds to 1, as f' does (|w(8)| < 2^-64). w is a polynomial of degree
# NEAR_DEGREE in d = y - centre on 32 intervals of y, uniform in the cubic
# g(y) = y (A + y (B + y C)) (A = 5/4, B = 1/8, C = 213/8192), whose spacing
# narrows as w's logarithmic slope (about 1.6 (1 + 0.13 y^2)) grows: interval
# n holds the y with rint(g(y)) = n, computed in float as
# fma(fma(fma(y, C, B), y, A), y, 1.5 * 2^23) (tanh_near_index in
# gelu_math.h), each interval fitted a little beyond its ends as for the near
# table. Interval 0 ([0, 0.379]) is expanded at 0 (c0 = w(0) = 1/2; it ends
# where w is still 0.21, since 1/2 + d q(d) cancels as w falls); interval 1
# ([0.379, 1.05]) holds the root of f' (y0 ~ 0.7525) and is expanded at the
# float nearest it, so that c0 = w(centre) is tiny and the error there stays
# relative to |w| (d = y - centre is exact in both: y lies within a factor 2
# of the centre). The fit is relative everywhere (the floor 2^-100 only
# keeps the weight finite at the root).
TANH_NEAR_END = 8.0
TANH_NEAR_G = (1.25, 0.125, 213 / 8192)  # A, B, C


def tanh_near_w(y):
    x = -mpmath.mpf(y)
    c = mpmath.sqrt(2 / mpmath.pi)
    kappa = mpmath.mpf("0.044715")
    s = 1 / (1 + mpmath.exp(-2 * c * (x + kappa * x**3)))
    return s + x * s * (1 - s) * 2 * c * (1 + 3 * kappa * x * x)


def _cubic_interval(idx, coeffs, end):
    """[lo, hi] of y for interval idx of a cubic index rint(g(y)) = idx,
    g(y) = y (a + y (b + y c)), each end widened by 2^-20 relative."""
    a, b, c = coeffs

    def inv(g):  # the y >= 0 with g(y) = g (g increases)
        lo, hi = 0.0, 16.0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mid * (a + mid * (b + mid * c)) < g else (lo, mid)
        return lo

    lo = 0.0 if idx == 0 else inv(idx - 0.5) * (1 - 2.0**-20)
    return lo, min(inv(idx + 0.5) * (1 + 2.0**-20), end)


def tanh_near_interval(idx):
    """[lo, hi] of y for tanh near-table interval idx (rint(g(y)) = idx)."""
    return _cubic_interval(idx, TANH_NEAR_G, TANH_NEAR_END)


# float32 tanh GELU for x >= -TANH_FWD_NEAR_END (CPU and CUDA), as the exact
# forward's near table: T(y) = f(-y) = -y sigma(-2u(y)), f = T(yc) +
# max(-0, x), yc = min(|x|, TANH_FWD_NEAR_END) (for x > 7, |T(7)| < 3e-15 is
# far below half an ulp of x, so f = x). The same kind of cubic index as the
# derivative's, g(y) = y (A + y (B + y C)) with A = 5/4, B = 3/16,
# C = 9/256 (g(7) = 30), on a shorter range: to 8 the best such index left
# 0.85 2^-24, to 7 it leaves 0.1 2^-24 (the forward's contract is 3 ulp).
# Interval 0 ([0, 0.38]) is expanded at 0 with c0 = -0 (T is y times a
# polynomial there, so f(-0) = -0).
TANH_FWD_NEAR_END = 7.0
TANH_FWD_NEAR_G = (1.25, 0.1875, 9 / 256)  # A, B, C


def tanh_near_t(y):
    y = mpmath.mpf(y)
    c = mpmath.sqrt(2 / mpmath.pi)
    kappa = mpmath.mpf("0.044715")
    return -y / (1 + mpmath.exp(2 * c * (y + kappa * y**3)))


def tanh_fwd_near_interval(idx):
    """[lo, hi] of y for the tanh forward near table's interval idx."""
    return _cubic_interval(idx, TANH_FWD_NEAR_G, TANH_FWD_NEAR_END)


def tanh_near_root():
    """The float nearest the root y0 of w (f'(-y0) = 0)."""
    return float(np.float32(float(mpmath.findroot(tanh_near_w, 0.75))))


def fit_exp2_precise(degree=6, rmax=0.5 + 2.0**-24):
    """2^r - 1 = r Q(r) on |r| <= rmax, Q of degree - 1, float coefficients
    rounded from the constant term up; returns Q (low to high) and the
    relative error of 1 + r Q(r)."""
    n = 3000
    r = rmax * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    exact = np.array([float(mpmath.power(2, v)) for v in r])
    q = np.array([float((mpmath.power(2, v) - 1) / v) for v in r])
    basis = np.vander(r, degree, increasing=True)
    fixed = {}
    for j in range(degree):
        free = [i for i in range(degree) if i not in fixed]
        rest = q - sum(c * basis[:, i] for i, c in fixed.items())
        c, _ = lawson(basis[:, free], rest, r / exact, iters=100)
        fixed[j] = float(np.float32(c[free.index(j)]))
    coeffs = [fixed[i] for i in range(degree)]
    return coeffs, (np.abs(r * (basis @ np.array(coeffs)) + 1 - exact) / exact).max()


def _tail_cl():
    return 1 / (2 * mpmath.log(2)) - mpmath.mpf(LOG2E_HALF_HI)


def tail_forward(y):
    y = mpmath.mpf(y)
    return -y * g_of_y(y) / (1 + mpmath.sqrt(2) * y) * mpmath.power(2, -_tail_cl() * y * y)


def tail_derivative(y):
    y = mpmath.mpf(y)
    r = g_of_y(y) / (1 + mpmath.sqrt(2) * y)
    return (r - y / mpmath.sqrt(2 * mpmath.pi)) * mpmath.power(2, -_tail_cl() * y * y)


def tail_interval(idx):
    """[lo, hi) of y for table index idx = (bits(y) >> 21) & 31."""
    top = idx >> 2
    e = (120 if top >= 3 else 128) + top - 127
    m = idx & 3
    lo, hi = 2.0**e * (1 + m / 4), 2.0**e * (1 + (m + 1) / 4)
    return (0.0 if idx == TAIL_FLOOR_IDX else lo), min(hi, TAIL_YMAX)


def _ulp32(v):
    return 2.0 ** (math.frexp(abs(float(v)))[1] - 24)


def _tail_centre(fn, lo, hi):
    mid = float(np.float32((lo + hi) / 2))
    best = None
    for step in range(4000):
        for sign in (1, -1):
            c = float(np.float32(mid + sign * step * 64 * _ulp32(mid)))
            v = fn(c)
            f = float(np.float32(float(v)))
            off = abs(float(v - mpmath.mpf(f))) / _ulp32(f)
            if best is None or off < best[0]:
                best = (off, c, f)
            if off < 2.0**-10:
                return best
    return best


def fit_tail_table(
    fn, floor, degree=TAIL_DEGREE, interval=None, zero_idx=TAIL_FLOOR_IDX, centred=None
):
    """One table (centres and coefficients, each a list of 32 floats) for
    fn, near-minimax in the error relative to |fn| + floor; also returns the
    largest such error of the float coefficients (evaluated exactly).
    interval(idx) gives each interval's [lo, hi] (default: tail_interval);
    interval zero_idx starts at 0 and is expanded there. centred maps an
    interval to the float its polynomial is expanded at (instead of one
    chosen near its middle)."""
    interval = interval or tail_interval
    centred = centred or {}
    centres, coeffs, worst = [], [[] for _ in range(degree + 1)], 0.0
    for idx in range(32):
        lo, hi = interval(idx)
        if idx == zero_idx:
            # -0 for S: the result's sign at x = -0 comes from this term
            centre, c0 = 0.0, float(np.float32(float(fn(0)))) or -0.0
        elif idx in centred:
            centre = centred[idx]
            c0 = float(np.float32(float(fn(centre))))
        else:
            _, centre, c0 = _tail_centre(fn, lo, hi)
        n = 200
        t = np.cos(np.pi * (np.arange(n) + 0.5) / n)
        y = np.abs((lo + hi) / 2 + (hi - lo) / 2 * t) + 1e-30
        f = np.array([float(fn(v)) for v in y])
        w = 1 / (np.abs(f) + floor)
        basis = np.vander(y - centre, degree + 1, increasing=True)
        fixed = {0: c0}
        for j in range(1, degree + 1):
            free = [i for i in range(degree + 1) if i not in fixed]
            rest = f - sum(c * basis[:, i] for i, c in fixed.items())
            c, _ = lawson(basis[:, free], rest, w)
            fixed[j] = float(np.float32(c[free.index(j)]))
        cs = np.array([fixed[i] for i in range(degree + 1)])
        worst = max(worst, (np.abs(basis @ cs - f) * w).max())
        centres.append(centre)
        for i in range(degree + 1):
            coeffs[i].append(cs[i])
    return centres, coeffs, worst


def print_tail_table(name, centres, coeffs, make="make_tail_table", kind="TailTable"):
    def row(vals):
        out = [hexf_short(v) + "f" for v in vals]
        return ",\n      ".join(", ".join(out[i : i + 4]) for i in range(0, 32, 4))

    # clang-format keeps its hands off: four numbers a row read better.
    print("// clang-format off")
    print(f"inline constexpr {kind} {name} = {make}({{")
    print(f"    {{{row(centres)}}},")
    print("    {" + ",\n     ".join("{" + row(c) + "}" for c in coeffs) + "}});")
    print("// clang-format on")


def hexf(v):
    return float(np.float32(v)).hex()


def hexf_short(v):
    """A float32 as the shortest C hex-float literal (sign of zero kept)."""
    if v == 0:
        return "-0x0p+0" if math.copysign(1.0, v) < 0 else "0x0p+0"
    mant, exp = hexf(v).split("p")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}"


# ---------------------------------------------------------------------------
# float64 (csrc/gelu_math_f64.h). Double coefficients need fits far beyond
# float64 arithmetic, so these are done in mpmath throughout: Chebyshev
# approximants (mpmath.chebyfit, near-minimax in absolute error) whose errors
# are then measured, coefficients rounded to double, against 40-digit values.
# ---------------------------------------------------------------------------
F64_EXP_RMAX = 0.347  # ln(2)/2 = 0.34657..., with room for the rounding of k
F64_TAIL_K = 4  # t = 1 / (y + K)
F64_TAIL_PIECES = 8  # pieces in t, one coefficient per piece in a vector register
F64_TAIL_SCALE = 31  # w = 31 t - 1/2, piece i = round(w) in 0..7, v = w - i in [-1/2, 1/2]
F64_TAIL_YMAX = 40  # Clamp<double>::kExact


def _dd(v):
    """An mpf as a double pair (hi, lo)."""
    hi = float(v)
    return hi, float(v - hi)


def fit_exp_f64(degree=11, nodes=400):
    """e^r = 1 + r + r^2 Q(r) on |r| <= F64_EXP_RMAX with Q of degree
    ``degree`` - 2, double coefficients. Returns Q (low to high) and the
    largest relative error of 1 + r + r^2 Q(r) on a dense grid."""

    def q_of(r):
        return (mpmath.exp(r) - 1 - r) / r**2 if r != 0 else mpmath.mpf(0.5)

    poly = mpmath.chebyfit(q_of, [-F64_EXP_RMAX, F64_EXP_RMAX], degree - 1)
    q = [float(c) for c in poly[::-1]]
    worst = mpmath.mpf(0)
    for j in range(nodes + 1):
        r = mpmath.mpf(F64_EXP_RMAX) * (2 * j - nodes) / nodes
        approx = 1 + r + r**2 * mpmath.polyval([mpmath.mpf(c) for c in q[::-1]], r)
        worst = max(worst, abs(approx / mpmath.exp(r) - 1))
    return q, float(worst)


def fit_tail_f64(degree=10, nodes=200):
    """R(y) = exp(y^2/2) Phi(-y) = t H(t), t = 1/(y + K), on y in [0, YMAX]:
    H = (y + K) R(y) piecewise in w = SCALE t - 1/2, a polynomial of degree
    ``degree`` in v = w - i on each piece i (only the part of a piece that
    y <= YMAX reaches is fitted). Returns per piece the coefficients (low to
    high, the constant as a double pair) and the largest relative error of
    H with the rounded coefficients."""
    K, S = mpmath.mpf(F64_TAIL_K), mpmath.mpf(F64_TAIL_SCALE)

    def h_of(w):
        t = (w + mpmath.mpf(0.5)) / S
        y = 1 / t - K
        a = y / mpmath.sqrt(2)
        return mpmath.erfc(a) * mpmath.exp(a * a) / 2 / t

    wmin, wmax = S / (F64_TAIL_YMAX + K) - mpmath.mpf(0.5), S / K - mpmath.mpf(0.5)
    pieces, worst = [], 0.0
    for i in range(F64_TAIL_PIECES):
        lo, hi = max(i - mpmath.mpf(0.5), wmin), min(i + mpmath.mpf(0.5), wmax)
        poly = mpmath.chebyfit(lambda v: h_of(v + i), [lo - i, hi - i], degree + 1)
        c = poly[::-1]
        c0 = _dd(c[0])
        coeffs = [c0] + [float(v) for v in c[1:]]
        for j in range(nodes + 1):
            v = lo - i + (hi - lo) * j / nodes
            approx = (
                mpmath.mpf(c0[0])
                + c0[1]
                + v * mpmath.polyval([mpmath.mpf(x) for x in coeffs[:0:-1]], v)
            )
            worst = max(worst, float(abs(approx / h_of(v + i) - 1)))
        pieces.append(coeffs)
    return pieces, worst


def dhex(v):
    return float(v).hex()


def print_float64_fits():
    q, err = fit_exp_f64()
    print(
        f"float64 exp: 1 + r + r^2 Q(r), |r| <= {F64_EXP_RMAX}, max rel err {err:.3e};"
        " Q high to low"
    )
    print("   " + ", ".join(dhex(v) for v in q[::-1]))
    pieces, err = fit_tail_f64()
    print(
        f"float64 tail: H(v) per piece, K={F64_TAIL_K}, w = {F64_TAIL_SCALE} t - 1/2,"
        f" max rel err {err:.3e}; row j = coefficient of v^j (j = 10 .. 1), then c0 hi, lo,"
        " entries = pieces 0..7"
    )
    n = len(pieces[0])
    for j in range(n - 1, 0, -1):
        print("   {" + ", ".join(dhex(p[j]) for p in pieces) + "},")
    print("   {" + ", ".join(dhex(p[0][0]) for p in pieces) + "},")
    print("   {" + ", ".join(dhex(p[0][1]) for p in pieces) + "},")


# ---------------------------------------------------------------------------
# The GPU's 16-bit formulas (csrc/gelu_math_device.h, --device): R(y) and
# E(y) = (R(y) - y C0) / (y0 - y) as rationals in relative error per result
# type, and the Taylor coefficients of the logistic forms' f' at its root.
# ---------------------------------------------------------------------------
DEVICE_YMAX = {"bfloat16": 14.0, "float16": 6.0}


def exact_root():
    """y0, the root of R(y) - y C0 (f'(-y0) = 0)."""
    c0 = 1 / mpmath.sqrt(2 * mpmath.pi)
    return mpmath.findroot(lambda y: _r_of_y(y) - c0 * y, 0.75)


def _e_of_y(v, y0):
    v = mpmath.mpf(v)
    if abs(v - y0) < mpmath.mpf(10) ** -20:
        v += mpmath.mpf(10) ** -25
    return (_r_of_y(v) - v / mpmath.sqrt(2 * mpmath.pi)) / (y0 - v)


def logistic_root(a_of_x):
    """x0 with f'(x0) = 0 for f = x sigma(a(x)), and f'(x0 + d) ~ c1 d + c2 d^2."""

    def f(x):
        return x / (1 + mpmath.exp(-a_of_x(x)))

    x0 = mpmath.findroot(lambda x: mpmath.diff(f, x), -0.75)
    return x0, mpmath.diff(f, x0, 2), mpmath.diff(f, x0, 3) / 2


def print_device_fits():
    y0 = exact_root()
    hi = float(np.float32(float(y0)))
    print(f"y0 = {hexf(hi)} + {hexf(float(y0 - hi))}")
    for name, ymax in DEVICE_YMAX.items():
        for what, fn, m, d in (("R", _r_of_y, 2, 3), ("E", lambda v: _e_of_y(v, y0), 2, 2)):
            p, q, err = fit_rational_fn(fn, m, d, ymax)
            print(f"{name} {what} = N/D, degrees {m}/{d} on [0, {ymax:g}], rel err {err:.2e}")
            print("   N:", ", ".join(hexf(v) for v in p))
            print("   D:", ", ".join(hexf(v) for v in q[1:]))
    a1 = 2 * mpmath.sqrt(2 / mpmath.pi)
    for name, a in (
        ("tanh", lambda x: x * (a1 + a1 * mpmath.mpf("0.044715") * x * x)),
        ("sigmoid", lambda x: mpmath.mpf("1.702") * x),
    ):
        x0, c1, c2 = logistic_root(a)
        hi = float(np.float32(float(x0)))
        print(f"{name} root {hexf(hi)} + {hexf(float(x0 - hi))}, c1 {hexf(c1)}, c2 {hexf(c2)}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--float64"]:
        print_float64_fits()
        sys.exit(0)
    if sys.argv[1:] == ["--device"]:
        print_device_fits()
        sys.exit(0)
    for degree in (6, 3):  # precise (float32) and half (16-bit tanh GELU) paths
        c, err = fit_exp(degree)
        print(f"exp degree {degree}: 1 + r + r^2*Q(r), Q low to high, max rel err {err:.3e}")
        for v in c:
            print("  ", hexf(v), f"// {np.float32(v)!r}")
    c, err = fit_exp2(4)  # bfloat16/float16 exact GELU: 2^r = 1 + r S(r)
    print(f"2^r degree 4: 1 + r S(r), S high to low, max rel err {err:.3e}")
    for v in c[::-1]:
        print("  ", hexf(v), f"// {np.float32(v)!r}")
    for m, d in ((2, 3), (3, 4)):  # their forward and derivative R = P / Q
        p, q, err = fit_rational(m, d)
        print(f"R = P/Q, degrees {m}/{d}, float coefficients, max rel err {err:.3e}; high to low")
        print("   P:", ", ".join(hexf(v) for v in p[::-1]))
        print("   Q:", ", ".join(hexf(v) for v in q[::-1]))

    c, err = fit_exp2_precise()  # float32 results on the CPU: 2^r = 1 + r Q(r)
    print(f"2^r degree 6: 1 + r Q(r), Q low to high, max rel err {err:.3e}")
    print("  ", ", ".join(hexf(v) for v in c))
    for name, fn, floor in (
        ("kTailForward", tail_forward, 0.0),
        ("kTailDerivative", tail_derivative, 2.0**-24),
    ):
        centres, coeffs, err = fit_tail_table(fn, floor)
        print(f"// {name}: degree {TAIL_DEGREE}, max error relative to |f| + {floor:g}: {err:.3e}")
        print_tail_table(name, centres, coeffs)
    centres, coeffs, err = fit_tail_table(near_t, 0.0, NEAR_DEGREE, near_interval, 0)
    print(f"// kNearForward: degree {NEAR_DEGREE}, max relative error: {err:.3e}")
    print_tail_table("kNearForward", centres, coeffs, "make_near_table", "NearTable")
    centres, coeffs, err = fit_tail_table(
        tanh_near_w, 2.0**-100, NEAR_DEGREE, tanh_near_interval, 0, {1: tanh_near_root()}
    )
    print(f"// kTanhNearDerivative: degree {NEAR_DEGREE}, max relative error: {err:.3e}")
    print_tail_table("kTanhNearDerivative", centres, coeffs, "make_near_table", "NearTable")
    centres, coeffs, err = fit_tail_table(tanh_near_t, 0.0, NEAR_DEGREE, tanh_fwd_near_interval, 0)
    print(f"// kTanhNearForward: degree {NEAR_DEGREE}, max relative error: {err:.3e}")
    print_tail_table("kTanhNearForward", centres, coeffs, "make_near_table", "NearTable")
