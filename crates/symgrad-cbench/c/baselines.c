/* Hand-written C baselines for symgrad's benches (W1, W2, W3, W3b of
 * docs/WORKLOADS.md). Plain C loops, no BLAS: the same work the benches'
 * hand-written Rust does, compiled with -O3 -march=native by build.rs.
 *
 * Layouts (all row-major): x [m, ni], y [m, no], W1 [nh, ni], b1 [nh],
 * W2 [no, nh], b2 [no]; the gradients have the parameters' shapes.
 * `work` holds 2*m*nh + 2*m*no doubles (a1, a2, d1, d2), owned by the caller
 * so that no call allocates. */

#include <math.h>
#include <stddef.h>

/* ------------------------------------------------------------ W1 seed */

/* f(x, y) = x^2 y + y + 2 and its gradient. */
void sgc_seed(double x, double y, double *f, double g[2]) {
    double x2 = x * x;
    *f = x2 * y + y + 2.0;
    g[0] = 2.0 * x * y;
    g[1] = x2 + 1.0;
}

/* ---------------------------------------------------- W2 rosenbrock */

/* Rosenbrock's value, and its gradient into g[0..n): one pass, two updates
 * per term (the loop of the benches' hand-written Rust). */
double sgc_rosenbrock(size_t n, const double *restrict x, double *restrict g) {
    double f = 0.0;
    for (size_t i = 0; i < n; i++) {
        g[i] = 0.0;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        double t = x[i + 1] - x[i] * x[i];
        double u = 1.0 - x[i];
        f += 100.0 * t * t + u * u;
        g[i] += -400.0 * x[i] * t - 2.0 * u;
        g[i + 1] += 200.0 * t;
    }
    return f;
}

/* Rosenbrock's value alone (t_f). */
double sgc_rosenbrock_value(size_t n, const double *restrict x) {
    double f = 0.0;
    for (size_t i = 0; i + 1 < n; i++) {
        double t = x[i + 1] - x[i] * x[i];
        double u = 1.0 - x[i];
        f += 100.0 * t * t + u * u;
    }
    return f;
}

/* ------------------------------------------------------ W3 and W3b */

static double sigmoid(double z) {
    if (z >= 0.0) {
        return 1.0 / (1.0 + exp(-z));
    }
    double e = exp(z);
    return e / (1.0 + e);
}

/* Dot product of a and b (length n) with eight independent partial sums,
 * which gcc turns into vector code without -ffast-math. */
static double dot(size_t n, const double *restrict a, const double *restrict b) {
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        for (size_t l = 0; l < 8; l++) {
            acc[l] += a[j + l] * b[j + l];
        }
    }
    double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < n; j++) {
        s += a[j] * b[j];
    }
    return s;
}

/* out[r, :] = bias + in[r, :] W^T for r < rows, W [cols_out, cols_in]. */
static void affine(size_t rows, size_t cols_in, size_t cols_out, const double *restrict in,
                   const double *restrict w, const double *restrict bias, double *restrict out) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t o = 0; o < cols_out; o++) {
            out[r * cols_out + o] = bias[o] + dot(cols_in, in + r * cols_in, w + o * cols_in);
        }
    }
}

/* a1 = sigmoid(x W1^T + b1), a2 = a1 W2^T + b2 (pre-activation). */
static void forward(size_t m, size_t ni, size_t nh, size_t no, const double *x, const double *w1,
                    const double *b1, const double *w2, const double *b2, double *a1, double *a2) {
    affine(m, ni, nh, x, w1, b1, a1);
    for (size_t k = 0; k < m * nh; k++) {
        a1[k] = sigmoid(a1[k]);
    }
    affine(m, nh, no, a1, w2, b2, a2);
}

/* out[r, c] = sum_k d[k, r] a[k, c] (dW = D^T A), and db = column sums of D.
 * One output row at a time, so that it stays in L1 while the m samples are
 * added into it. */
static void weight_gradient(size_t m, size_t rows, size_t cols, const double *restrict d,
                            const double *restrict a, double *restrict out,
                            double *restrict db) {
    for (size_t r = 0; r < rows; r++) {
        double *restrict o = out + r * cols;
        for (size_t c = 0; c < cols; c++) {
            o[c] = 0.0;
        }
        double sum = 0.0;
        for (size_t k = 0; k < m; k++) {
            double s = d[k * rows + r];
            sum += s;
            const double *restrict ak = a + k * cols;
            for (size_t c = 0; c < cols; c++) {
                o[c] += s * ak[c];
            }
        }
        db[r] = sum;
    }
}

/* From the output error d2 (in work): dW2, db2, d1 = (d2 W2) * a1 (1 - a1),
 * dW1, db1. */
static void backward(size_t m, size_t ni, size_t nh, size_t no, const double *x, const double *w2,
                     const double *a1, const double *d2, double *d1, double *dw1, double *db1,
                     double *dw2, double *db2) {
    weight_gradient(m, no, nh, d2, a1, dw2, db2);
    for (size_t k = 0; k < m; k++) {
        double *restrict row = d1 + k * nh;
        for (size_t h = 0; h < nh; h++) {
            row[h] = 0.0;
        }
        for (size_t o = 0; o < no; o++) {
            double s = d2[k * no + o];
            const double *restrict w = w2 + o * nh;
            for (size_t h = 0; h < nh; h++) {
                row[h] += s * w[h];
            }
        }
        const double *restrict a = a1 + k * nh;
        for (size_t h = 0; h < nh; h++) {
            row[h] *= a[h] * (1.0 - a[h]);
        }
    }
    weight_gradient(m, nh, ni, d1, x, dw1, db1);
}

/* W3: sigmoid output, C = sum ||a2 - y||^2 / (2m). With dw1 == NULL only the
 * loss is computed; otherwise dw1, db1, dw2, db2 receive the gradient. */
double sgc_mlp_quadratic(size_t m, size_t ni, size_t nh, size_t no, const double *x,
                         const double *y, const double *w1, const double *b1, const double *w2,
                         const double *b2, double *dw1, double *db1, double *dw2, double *db2,
                         double *work) {
    double *a1 = work, *a2 = a1 + m * nh, *d1 = a2 + m * no, *d2 = d1 + m * nh;
    forward(m, ni, nh, no, x, w1, b1, w2, b2, a1, a2);
    double c = 0.0;
    for (size_t k = 0; k < m * no; k++) {
        double a = sigmoid(a2[k]);
        a2[k] = a;
        c += (a - y[k]) * (a - y[k]);
    }
    c /= 2.0 * (double)m;
    if (dw1 == NULL) {
        return c;
    }
    double inv_m = 1.0 / (double)m;
    for (size_t k = 0; k < m * no; k++) {
        double a = a2[k];
        d2[k] = (a - y[k]) * a * (1.0 - a) * inv_m;
    }
    backward(m, ni, nh, no, x, w2, a1, d2, d1, dw1, db1, dw2, db2);
    return c;
}

/* W3b: softmax output with cross-entropy, C = -(1/m) sum y log p. Same
 * conventions as sgc_mlp_quadratic. */
double sgc_mlp_softmax(size_t m, size_t ni, size_t nh, size_t no, const double *x,
                       const double *y, const double *w1, const double *b1, const double *w2,
                       const double *b2, double *dw1, double *db1, double *dw2, double *db2,
                       double *work) {
    double *a1 = work, *a2 = a1 + m * nh, *d1 = a2 + m * no, *d2 = d1 + m * nh;
    forward(m, ni, nh, no, x, w1, b1, w2, b2, a1, a2);
    double c = 0.0;
    for (size_t k = 0; k < m; k++) {
        double *z = a2 + k * no;
        const double *t = y + k * no;
        double mx = -INFINITY;
        for (size_t o = 0; o < no; o++) {
            mx = z[o] > mx ? z[o] : mx;
        }
        double s = 0.0;
        for (size_t o = 0; o < no; o++) {
            s += exp(z[o] - mx);
        }
        double lse = mx + log(s);
        for (size_t o = 0; o < no; o++) {
            c -= t[o] * (z[o] - lse);
            z[o] = exp(z[o] - lse);
        }
    }
    c /= (double)m;
    if (dw1 == NULL) {
        return c;
    }
    double inv_m = 1.0 / (double)m;
    for (size_t k = 0; k < m * no; k++) {
        d2[k] = (a2[k] - y[k]) * inv_m;
    }
    backward(m, ni, nh, no, x, w2, a1, d2, d1, dw1, db1, dw2, db2);
    return c;
}
