// Compiled kernels of the training step: the LSTM over left-padded sets, skipping the
// padding's shared work, and Adam's update in one call.
//
// The LSTM. A row of x (B, N) is a run of pad tokens (0) followed by its digits. From a
// zero state, the state after j pad tokens depends only on j and the weights: one
// trajectory, the same for every row. So the pad trajectory is computed once (one row),
// and each row starts from its state at the row's own pad count and runs over its digits
// only. Rows are sorted by their start, so at time step t the active rows are a prefix
// of the batch and each step multiplies only those. A token's input to the gates is a row
// of the gate table (V, 4H): W_ih e_x + b_ih + b_hh.
//
// lstm_forward takes the model's parameters (the embedding, nn.LSTM's four, the linear
// readout) and the tokens, and returns the predictions (B,) and what lstm_backward needs
// to return every parameter's gradient. Gates are in nn.LSTM's order (i, f, g, o).
// float32, CPU, contiguous: the Python side checks, and falls back to PyTorch.

#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

// BLAS's sgemm, which PyTorch's CPU library exports when it carries MKL (a build without
// it fails to load this extension, and the model falls back to PyTorch's LSTM kernel).
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);

namespace {

// Column-major C (m, n) = alpha op(A) op(B) + beta C, as BLAS computes it.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) {
    return;
  }
  const int mi = m, ni = n, ki = k, la = lda, lb = ldb, lc = ldc;
  const float one = 1.0f;
  sgemm_(trans_a ? "T" : "N", trans_b ? "T" : "N", &mi, &ni, &ki, &one, a, &la, b, &lb, &beta,
         c, &lc);
}

// exp(x) for float, in a form gcc vectorizes: Cody-Waite range reduction and Cephes'
// polynomial (about 1 ulp), the power of two built in the exponent bits.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline float tanh_approx(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }

// Row-major C (m, n) = A (m, k) @ op(B) + beta C, where op(B) is B (k, n), or the
// transpose of B stored (n, k) when b_transposed. BLAS is column-major: C^T = op(B)^T A^T.
void matmul(int64_t m, int64_t n, int64_t k, const float* a, const float* b,
            bool b_transposed, float beta, float* c) {
  if (m == 0) {
    return;
  }
  gemm(b_transposed, false, n, m, k, b, b_transposed ? k : n, a, k, beta, c, n);
}

// One time step on `rows` rows whose pre-activations are in gates (rows, 4H): the
// activations replace them; c and h are written, tanh(c) kept for backward.
void cell_forward(int64_t rows, int64_t H, float* __restrict gates,
                  const float* __restrict c_in, float* __restrict c_out,
                  float* __restrict h_out, float* __restrict tanh_c) {
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict g = gates + r * 4 * H;
    for (int64_t j = 0; j < 2 * H; ++j) {  // i, f
      g[j] = sigmoid(g[j]);
    }
    for (int64_t j = 2 * H; j < 3 * H; ++j) {  // g
      g[j] = tanh_approx(g[j]);
    }
    for (int64_t j = 3 * H; j < 4 * H; ++j) {  // o
      g[j] = sigmoid(g[j]);
    }
    for (int64_t j = 0; j < H; ++j) {
      const float c = g[H + j] * c_in[r * H + j] + g[j] * g[2 * H + j];
      const float tc = tanh_approx(c);
      c_out[r * H + j] = c;
      tanh_c[r * H + j] = tc;
      h_out[r * H + j] = g[3 * H + j] * tc;
    }
  }
}

// Backward through one step: from dh, dc (rows, H) after the step to the gradients of
// the pre-activations dgates (rows, 4H) and of c before the step, dc_in (rows, H).
void cell_backward(int64_t rows, int64_t H, const float* __restrict acts,
                   const float* __restrict c_in, const float* __restrict tanh_c,
                   const float* __restrict dh, const float* __restrict dc,
                   float* __restrict dgates, float* __restrict dc_in) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict a = acts + r * 4 * H;
    float* __restrict d = dgates + r * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = r * H + j;
      const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
      const float dct = dc[k] + dh[k] * o * (1.0f - tanh_c[k] * tanh_c[k]);
      d[j] = dct * g * i * (1.0f - i);
      d[H + j] = dct * c_in[k] * f * (1.0f - f);
      d[2 * H + j] = dct * i * (1.0f - g * g);
      d[3 * H + j] = dh[k] * tanh_c[k] * o * (1.0f - o);
      dc_in[k] = dct * f;
    }
  }
}

// Adds src (rows, n) into dst (n), row by row.
void add_rows(int64_t rows, int64_t n, const float* __restrict src, float* __restrict dst) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      dst[j] += src[r * n + j];
    }
  }
}

}  // namespace

// Buffers are time-major: step t's rows follow those of step t - 1, and within a step the
// rows that ran at t - 1 come first, then those that start at t. A row that starts at t
// has the pad trajectory's state as its input, so its hidden-to-gates product is the
// trajectory's, computed once: only the rows that ran before go through the GEMM, and
// only their h is kept (h_in, one block a step).
//
// Returns {h_last (B, H), order (B), active (N + 1), acts, c_in, tanh_c, h_in, pad_h,
// pad_c, pad_acts, pad_tanh_c}.
std::vector<at::Tensor> lstm_last_forward(const at::Tensor& table, const at::Tensor& w_hh,
                                          const at::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), G = w_hh.size(0), H = w_hh.size(1);
  const int64_t* tokens = x.data_ptr<int64_t>();
  // each row's start (its count of leading pad tokens); rows sorted by it (counting sort)
  std::vector<int64_t> start(B), count(N + 2, 0);
  int64_t pad_steps = 0;  // the longest run of leading pad tokens
  for (int64_t b = 0; b < B; ++b) {
    int64_t s = 0;
    while (s < N && tokens[b * N + s] == 0) {
      ++s;
    }
    start[b] = s;
    pad_steps = std::max(pad_steps, s);
    ++count[s + 1];
  }
  for (int64_t s = 0; s <= N; ++s) {
    count[s + 1] += count[s];  // count[s]: the rows that start before s
  }
  at::Tensor order = at::empty({B}, x.options());
  int64_t* ord = order.data_ptr<int64_t>();
  std::vector<int64_t> next(count.begin(), count.end());
  for (int64_t b = 0; b < B; ++b) {
    ord[next[start[b]]++] = b;
  }
  at::Tensor active = at::empty({N + 1}, x.options());  // active[t]: rows running at step t
  int64_t* act = active.data_ptr<int64_t>();
  int64_t total = 0, continuing = 0;  // row-steps; those of rows that ran the step before
  for (int64_t t = 0; t <= N; ++t) {
    act[t] = count[t + 1];
    total += t < N ? act[t] : 0;
    continuing += t > 0 && t < N ? act[t - 1] : 0;
  }

  const auto opts = table.options();
  at::Tensor acts = at::empty({total, G}, opts), c_in = at::empty({total, H}, opts);
  at::Tensor tanh_c = at::empty({total, H}, opts), h_in = at::empty({continuing, H}, opts);
  at::Tensor pad_h = at::zeros({pad_steps + 1, H}, opts);
  at::Tensor pad_c = at::zeros({pad_steps + 1, H}, opts);
  at::Tensor pad_acts = at::empty({pad_steps, G}, opts);
  at::Tensor pad_tanh_c = at::empty({pad_steps, H}, opts);
  const float* tab = table.data_ptr<float>();
  const float* w = w_hh.data_ptr<float>();

  // the pad trajectory: pad_h[j], pad_c[j] are the state after j pad tokens; shared[j] is
  // pad_h[j] @ w_hh^T, the part of the gates that the trajectory's step j and every row
  // starting at j share
  float* ph = pad_h.data_ptr<float>();
  float* pc = pad_c.data_ptr<float>();
  float* pa = pad_acts.data_ptr<float>();
  std::vector<float> shared((pad_steps + 1) * G, 0.0f);
  for (int64_t j = 0; j <= pad_steps; ++j) {
    matmul(1, G, H, ph + j * H, w, true, 0.0f, shared.data() + j * G);
    if (j == pad_steps) {
      break;
    }
    for (int64_t k = 0; k < G; ++k) {
      pa[j * G + k] = tab[k] + shared[j * G + k];
    }
    cell_forward(1, H, pa + j * G, pc + j * H, pc + (j + 1) * H, ph + (j + 1) * H,
                 pad_tanh_c.data_ptr<float>() + j * H);
  }

  // the rows, step by step: a row joins at its start with the pad trajectory's state
  float* hi = h_in.data_ptr<float>();
  float* ci = c_in.data_ptr<float>();
  float* ac = acts.data_ptr<float>();
  float* tc = tanh_c.data_ptr<float>();
  std::vector<float> h_next(B * H), c_next(B * H);
  int64_t offset = 0, ran_offset = 0;
  for (int64_t t = 0; t < N; ++t) {
    const int64_t n = act[t], ran = t > 0 ? act[t - 1] : 0;
    float* h = hi + ran_offset * H;
    float* c = ci + offset * H;
    float* g = ac + offset * G;
    std::memcpy(h, h_next.data(), ran * H * sizeof(float));
    std::memcpy(c, c_next.data(), ran * H * sizeof(float));
    for (int64_t r = 0; r < n; ++r) {
      const float* input = tab + tokens[ord[r] * N + t] * G;
      if (r < ran) {
        std::memcpy(g + r * G, input, G * sizeof(float));
        continue;
      }
      std::memcpy(c + r * H, pc + t * H, H * sizeof(float));
      for (int64_t k = 0; k < G; ++k) {
        g[r * G + k] = input[k] + shared[t * G + k];
      }
    }
    matmul(ran, G, H, h, w, true, 1.0f, g);
    cell_forward(n, H, g, c, c_next.data(), h_next.data(), tc + offset * H);
    offset += n;
    ran_offset += ran;
  }

  at::Tensor h_last = at::empty({B, H}, opts);
  float* out = h_last.data_ptr<float>();
  const int64_t ran = N > 0 ? act[N - 1] : 0;
  for (int64_t r = 0; r < B; ++r) {  // rows that are all padding end on the trajectory
    std::memcpy(out + ord[r] * H, r < ran ? h_next.data() + r * H : ph + N * H,
                H * sizeof(float));
  }
  return {h_last, order, active, acts, c_in, tanh_c, h_in, pad_h, pad_c, pad_acts, pad_tanh_c};
}

// The gradients of the gate table (V, 4H) and w_hh (4H, H) given that of h_last (B, H).
std::vector<at::Tensor> lstm_last_backward(
    const at::Tensor& grad_h, int64_t V, const at::Tensor& w_hh,
    const at::Tensor& x, const at::Tensor& order, const at::Tensor& active,
    const at::Tensor& acts, const at::Tensor& c_in, const at::Tensor& tanh_c,
    const at::Tensor& h_in, const at::Tensor& pad_h, const at::Tensor& pad_c,
    const at::Tensor& pad_acts, const at::Tensor& pad_tanh_c) {
  const int64_t B = x.size(0), N = x.size(1), G = w_hh.size(0), H = w_hh.size(1);
  const int64_t total = acts.size(0), continuing = h_in.size(0), pad_steps = pad_tanh_c.size(0);
  const int64_t* tokens = x.data_ptr<int64_t>();
  const int64_t* ord = order.data_ptr<int64_t>();
  const int64_t* act = active.data_ptr<int64_t>();
  const float* w = w_hh.data_ptr<float>();
  const float* gh = grad_h.data_ptr<float>();
  at::Tensor d_table = at::zeros({V, G}, w_hh.options()), d_w = at::zeros_like(w_hh);
  float* dt = d_table.data_ptr<float>();
  float* dw = d_w.data_ptr<float>();
  // the gates' gradients: of the rows that ran the step before, kept for one GEMM into
  // d_w at the end; of the rows that start at the step, summed into the trajectory's
  at::Tensor d_ran = at::empty({continuing, G}, w_hh.options());
  std::vector<float> d_start(B * G), dh(B * H), dc(B * H, 0.0f), dc_in(B * H);
  // what reaches the pad trajectory's state after j pad tokens, and the gradient of the
  // gates shared at j: the trajectory's own step j and the rows that start at j
  std::vector<float> pad_dh((pad_steps + 1) * H, 0.0f), pad_dc((pad_steps + 1) * H, 0.0f);
  std::vector<float> pad_dg((pad_steps + 1) * G, 0.0f);

  const int64_t last = N > 0 ? act[N - 1] : 0;
  for (int64_t r = 0; r < B; ++r) {  // rows that are all padding: the trajectory's end
    float* to = r < last ? dh.data() + r * H : pad_dh.data() + N * H;
    for (int64_t j = 0; j < H; ++j) {
      to[j] = (r < last ? 0.0f : to[j]) + gh[ord[r] * H + j];
    }
  }
  int64_t offset = total, ran_offset = continuing;
  for (int64_t t = N - 1; t >= 0; --t) {
    const int64_t n = act[t], ran = t > 0 ? act[t - 1] : 0;
    offset -= n;
    ran_offset -= ran;
    float* d = d_ran.data_ptr<float>() + ran_offset * G;
    const float* a = acts.data_ptr<float>() + offset * G;
    const float* ci = c_in.data_ptr<float>() + offset * H;
    const float* tc = tanh_c.data_ptr<float>() + offset * H;
    cell_backward(ran, H, a, ci, tc, dh.data(), dc.data(), d, dc_in.data());
    cell_backward(n - ran, H, a + ran * G, ci + ran * H, tc + ran * H, dh.data() + ran * H,
                  dc.data() + ran * H, d_start.data(), dc_in.data() + ran * H);
    for (int64_t r = 0; r < n; ++r) {  // the input projection: a row of the table per token
      float* __restrict row = dt + tokens[ord[r] * N + t] * G;
      const float* __restrict src = r < ran ? d + r * G : d_start.data() + (r - ran) * G;
      for (int64_t k = 0; k < G; ++k) {
        row[k] += src[k];
      }
    }
    // the rows that ran before: back through the GEMM; those that started here: to the
    // trajectory's state after t pad tokens
    matmul(ran, H, G, d, w, false, 0.0f, dh.data());
    std::memcpy(dc.data(), dc_in.data(), ran * H * sizeof(float));
    add_rows(n - ran, G, d_start.data(), pad_dg.data() + t * G);
    add_rows(n - ran, H, dc_in.data() + ran * H, pad_dc.data() + t * H);
  }
  gemm(false, true, H, G, continuing, h_in.data_ptr<float>(), H, d_ran.data_ptr<float>(), G,
       1.0f, dw, H);

  // back along the pad trajectory, one row
  std::vector<float> own(G), own_dc(H);
  for (int64_t j = pad_steps; j >= 1; --j) {
    float* d = pad_dg.data() + j * G;
    matmul(1, H, G, d, w, false, 1.0f, pad_dh.data() + j * H);
    cell_backward(1, H, pad_acts.data_ptr<float>() + (j - 1) * G,
                  pad_c.data_ptr<float>() + (j - 1) * H, pad_tanh_c.data_ptr<float>() + (j - 1) * H,
                  pad_dh.data() + j * H, pad_dc.data() + j * H, own.data(), own_dc.data());
    for (int64_t k = 0; k < G; ++k) {
      pad_dg[(j - 1) * G + k] += own[k];
      dt[k] += own[k];  // the pad token's row of the table
    }
    for (int64_t k = 0; k < H; ++k) {
      pad_dc[(j - 1) * H + k] += own_dc[k];
    }
  }
  // the shared gates' inputs pad_h[j]; pad_h[0] is zero
  gemm(false, true, H, G, pad_steps, pad_h.data_ptr<float>() + H, H, pad_dg.data() + G, G, 1.0f,
       dw, H);
  return {d_table, d_w};
}

// The model's predictions: the gate table, the recurrence, the readout fc(h_last).
// Returns {pred (B,), h_last, and lstm_last_forward's buffers}.
std::vector<at::Tensor> lstm_forward(const at::Tensor& emb, const at::Tensor& w_ih,
                                     const at::Tensor& b_ih, const at::Tensor& b_hh,
                                     const at::Tensor& w_hh, const at::Tensor& fc_w,
                                     const at::Tensor& fc_b, const at::Tensor& x) {
  const int64_t V = emb.size(0), E = emb.size(1), G = w_ih.size(0), H = w_hh.size(1);
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kLong && x.is_contiguous(),
              "tokens must be a contiguous 2-D int64 tensor");
  const int64_t* tokens = x.data_ptr<int64_t>();
  for (int64_t i = 0; i < x.numel(); ++i) {  // a token indexes the gate table's rows
    TORCH_CHECK(tokens[i] >= 0 && tokens[i] < V, "tokens must lie in 0..", V - 1, ", got ",
                tokens[i]);
  }
  at::Tensor table = at::empty({V, G}, emb.options());
  float* tab = table.data_ptr<float>();
  matmul(V, G, E, emb.data_ptr<float>(), w_ih.data_ptr<float>(), true, 0.0f, tab);
  const float* bi = b_ih.data_ptr<float>();
  const float* bh = b_hh.data_ptr<float>();
  for (int64_t v = 0; v < V; ++v) {
    for (int64_t k = 0; k < G; ++k) {
      tab[v * G + k] += bi[k] + bh[k];
    }
  }
  std::vector<at::Tensor> out = lstm_last_forward(table, w_hh, x);
  const at::Tensor& h_last = out[0];
  const int64_t B = h_last.size(0);
  at::Tensor pred = at::empty({B}, emb.options());
  const float* h = h_last.data_ptr<float>();
  const float* fw = fc_w.data_ptr<float>();
  float* p = pred.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    float sum = 0.0f;
    for (int64_t j = 0; j < H; ++j) {
      sum += h[b * H + j] * fw[j];
    }
    p[b] = sum + fc_b.data_ptr<float>()[0];
  }
  out.insert(out.begin(), pred);
  return out;
}

// Every parameter's gradient from that of the predictions: {d_emb, d_w_ih, d_b_ih, d_b_hh,
// d_w_hh, d_fc_w, d_fc_b}. ``saved`` is lstm_forward's output after pred.
std::vector<at::Tensor> lstm_backward(const at::Tensor& grad, const at::Tensor& emb,
                                      const at::Tensor& w_ih, const at::Tensor& w_hh,
                                      const at::Tensor& fc_w, const at::Tensor& x,
                                      std::vector<at::Tensor> saved) {
  const int64_t V = emb.size(0), E = emb.size(1), G = w_ih.size(0), H = w_hh.size(1);
  const at::Tensor& h_last = saved[0];
  const int64_t B = h_last.size(0);
  const float* g = grad.data_ptr<float>();
  const float* h = h_last.data_ptr<float>();
  const float* fw = fc_w.data_ptr<float>();
  at::Tensor d_fc_w = at::zeros_like(fc_w), d_fc_b = at::zeros({1}, emb.options());
  at::Tensor d_h = at::empty({B, H}, emb.options());
  float* dfw = d_fc_w.data_ptr<float>();
  float* dh = d_h.data_ptr<float>();
  float gsum = 0.0f;
  for (int64_t b = 0; b < B; ++b) {  // the readout: pred = h_last fc_w^T + fc_b
    gsum += g[b];
    for (int64_t j = 0; j < H; ++j) {
      dfw[j] += g[b] * h[b * H + j];
      dh[b * H + j] = g[b] * fw[j];
    }
  }
  d_fc_b.data_ptr<float>()[0] = gsum;
  std::vector<at::Tensor> d = lstm_last_backward(
      d_h, V, w_hh, x, saved[1], saved[2], saved[3], saved[4], saved[5], saved[6],
      saved[7], saved[8], saved[9], saved[10]);
  const at::Tensor& d_table = d[0];
  // the gate table: table = emb w_ih^T + b_ih + b_hh
  at::Tensor d_emb = at::empty_like(emb), d_w_ih = at::empty_like(w_ih);
  at::Tensor d_b = d_table.sum(0);
  matmul(V, E, G, d_table.data_ptr<float>(), w_ih.data_ptr<float>(), false, 0.0f,
         d_emb.data_ptr<float>());
  // d_w_ih (G, E) = d_table^T (G, V) @ emb (V, E); column-major: d_w_ih^T = emb^T d_table
  gemm(false, true, E, G, V, emb.data_ptr<float>(), E, d_table.data_ptr<float>(), G, 0.0f,
       d_w_ih.data_ptr<float>(), E);
  return {d_emb, d_w_ih, d_b, d_b.clone(), d[1], d_fc_w, d_fc_b};
}

// Adam's update of every tensor in one call, tensor i at its own step t, computed as
// torch.optim.Adam(fused=True) computes it on the CPU (ATen's FusedAdamKernel.cpp, as
// torch's x86 builds compile it), to the same floats: 1 - beta1, 1 - beta2, the bias
// corrections and the step size s in double, then rounded to float (1 - beta2 computed in
// float instead, 1 - float(0.999), is 1.3e-5 off); then, in float,
//   m = fma(1 - beta1, g - m, m)                      (m.lerp_(g, 1 - beta1))
//   v = fma((1 - beta2) g, g, beta2 v)                (beta2 v + (1 - beta2) g g)
//   p = p + (-s m) / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// over the first n - n % 8 values (ATen's vectors of 8 floats), and over the last n % 8
// the same but v = fma(v, beta2, ((1 - beta2) g) g). Each fma is written out, and the
// compiler fuses nothing else. tests/test_optim.py checks it bit for bit.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma STDC FP_CONTRACT OFF
void adam_step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
               const std::vector<at::Tensor>& exp_avgs,
               const std::vector<at::Tensor>& exp_avg_sqs, const std::vector<double>& steps,
               double lr, double beta1, double beta2, double eps) {
  constexpr int64_t kLanes = 8;
  const float c1 = static_cast<float>(1 - beta1), c2 = static_cast<float>(1 - beta2);
  const float b2 = static_cast<float>(beta2), e = static_cast<float>(eps);
  for (size_t i = 0; i < params.size(); ++i) {
    const float minus_s = static_cast<float>(-(lr / (1 - std::pow(beta1, steps[i]))));
    const float correction2_sqrt =
        static_cast<float>(std::sqrt(1 - std::pow(beta2, steps[i])));
    float* __restrict p = params[i].data_ptr<float>();
    const float* __restrict g = grads[i].data_ptr<float>();
    float* __restrict m = exp_avgs[i].data_ptr<float>();
    float* __restrict v = exp_avg_sqs[i].data_ptr<float>();
    const int64_t n = params[i].numel(), vectors = n - n % kLanes;
    for (int64_t k = 0; k < n; ++k) {
      m[k] = std::fma(c1, g[k] - m[k], m[k]);
      const float c2_g = c2 * g[k];
      v[k] = k < vectors ? std::fma(c2_g, g[k], v[k] * b2) : std::fma(v[k], b2, c2_g * g[k]);
      p[k] = p[k] + minus_s * m[k] / (std::sqrt(v[k]) / correction2_sqrt + e);
    }
  }
}
#pragma GCC pop_options

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  // plain C++ on tensors: other Python threads run meanwhile
  const auto no_gil = py::call_guard<py::gil_scoped_release>();
  m.def("lstm_forward", &lstm_forward, "the LSTM's predictions over left-padded sets", no_gil);
  m.def("lstm_backward", &lstm_backward, "every parameter's gradient", no_gil);
  m.def("adam_step", &adam_step, "Adam's update of every tensor, as torch's fused Adam",
        no_gil);
}
