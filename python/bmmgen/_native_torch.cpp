// _native_torch.cpp: bmmgen.bmm's call path for torch tensors, in C++ against torch's own
// headers (Debian's libtorch-dev), where unpacking a tensor costs nanoseconds instead of the
// dozen attribute reads and the ctypes call of the Python path (_ops.py).
//
// It is a fast path only: it takes the calls it can run as they are (plain CPU float32,
// float64, bfloat16 or float16 tensors of the exact torch.Tensor type, 3-D, every size at
// least 1, lying within their storage, no neg bit, no autograd wanted, not under
// torch.jit.trace) and hands every other to the Python path by returning None, which checks,
// raises and falls back as before.
// A call the library refuses (an out overlapping an input: nothing was written) goes there
// too, to be said in Python's words. Planned does the same for a bmmgen.Plan's calls.
//
// The library is the one _lib.py loaded: bind() takes its functions' addresses, so the process
// has one libbmm (one plan cache, one wisdom, one thread setting) and this module links to none.
#include <torch/extension.h>
#include <torch/library.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/jit/frontend/tracer.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "bmm.h"

namespace {

using sgemm_fn = bmm_status (*)(int64_t, int64_t, int64_t, int64_t, float, const float *,
    bmm_stride, const float *, bmm_stride, float, float *, bmm_stride);
using dgemm_fn = bmm_status (*)(int64_t, int64_t, int64_t, int64_t, double, const double *,
    bmm_stride, const double *, bmm_stride, double, double *, bmm_stride);

// bmm_bf16gemm_strided and bmm_hgemm_strided: 16-bit operands as their bits, float scalars
using hgemm_fn = bmm_status (*)(int64_t, int64_t, int64_t, int64_t, float, const uint16_t *,
    bmm_stride, const uint16_t *, bmm_stride, float, uint16_t *, bmm_stride);
// bmm_sbgemm_strided and bmm_shgemm_strided: the same, C a float32 tensor
using sbgemm_fn = bmm_status (*)(int64_t, int64_t, int64_t, int64_t, float, const uint16_t *,
    bmm_stride, const uint16_t *, bmm_stride, float, float *, bmm_stride);
using execute_fn = bmm_status (*)(const bmm_plan *, const void *, const void *, void *);

std::atomic<sgemm_fn> sgemm{nullptr};
std::atomic<dgemm_fn> dgemm{nullptr};
std::atomic<hgemm_fn> bf16gemm{nullptr}, hgemm{nullptr};
std::atomic<sbgemm_fn> sbgemm{nullptr}, shgemm{nullptr};
std::atomic<execute_fn> execute{nullptr};

// The torch dtype of a bmm_dtype (BMM_F32 .. BMM_F16), and whether a tensor's is one.
at::ScalarType scalar_type(int dtype)
{
    switch (dtype) {
    case BMM_F32: return at::kFloat;
    case BMM_F64: return at::kDouble;
    case BMM_BF16: return at::kBFloat16;
    case BMM_F16: return at::kHalf;
    default: throw std::invalid_argument("Planned: not a bmm_dtype");
    }
}

bool served(at::ScalarType t)
{
    return t == at::kFloat || t == at::kDouble || t == at::kBFloat16 || t == at::kHalf;
}

// Products of at least this many multiply-adds run with the GIL released (below it the
// release and the reacquire cost more than another thread could gain).
constexpr int64_t GIL_FREE_MADDS = 1 << 16;

void bind(std::uintptr_t s, std::uintptr_t d, std::uintptr_t bf, std::uintptr_t h,
    std::uintptr_t sb, std::uintptr_t sh, std::uintptr_t e)
{
    sgemm = reinterpret_cast<sgemm_fn>(s);
    dgemm = reinterpret_cast<dgemm_fn>(d);
    bf16gemm = reinterpret_cast<hgemm_fn>(bf);
    hgemm = reinterpret_cast<hgemm_fn>(h);
    sbgemm = reinterpret_cast<sbgemm_fn>(sb);
    shgemm = reinterpret_cast<sbgemm_fn>(sh);
    execute = reinterpret_cast<execute_fn>(e);
}

// A 3-D CPU tensor of a dtype the library has, with storage, every element within it (as
// torch checks before it reads: a resized storage must not be read past), sizes >= 1, no neg
// bit.
bool plain(const at::Tensor &t)
{
    if (t.dim() != 3 || t.layout() != at::kStrided || !t.device().is_cpu() || t.is_neg()
        || !served(t.scalar_type()) || !t.has_storage())
        return false;
    int64_t last = t.storage_offset();
    if (last < 0)
        return false;
    for (int64_t d = 0; d < 3; d++) {
        if (t.size(d) < 1 || t.stride(d) < 0)
            return false;
        last += (t.size(d) - 1) * t.stride(d);
    }
    const c10::Storage &st = t.storage();
    return st.data() != nullptr
        && (last + 1) * static_cast<int64_t>(t.element_size()) <= static_cast<int64_t>(st.nbytes());
}

bmm_stride strides(const at::Tensor &t)
{
    return bmm_stride{ t.stride(0), t.stride(1), t.stride(2) };
}

// c = a @ b on the library's one-shot entry (plain operands of one dtype, or c float32 of
// 16-bit a and b; c of the product's shape); what the library says.
bmm_status product(const at::Tensor &a, const at::Tensor &b, const at::Tensor &c)
{
    const sgemm_fn s = sgemm.load(std::memory_order_relaxed);
    const dgemm_fn d = dgemm.load(std::memory_order_relaxed);
    const int64_t batch = a.size(0), n = a.size(1), m = a.size(2), p = b.size(2);
    if (a.scalar_type() == at::kFloat)
        return s ? s(batch, n, m, p, 1.0f, a.data_ptr<float>(), strides(a), b.data_ptr<float>(),
                       strides(b), 0.0f, c.data_ptr<float>(), strides(c))
                 : BMM_EINVAL;
    if (a.scalar_type() == at::kDouble)
        return d ? d(batch, n, m, p, 1.0, a.data_ptr<double>(), strides(a),
                       b.data_ptr<double>(), strides(b), 0.0, c.data_ptr<double>(), strides(c))
                 : BMM_EINVAL;
    const bool bf16 = a.scalar_type() == at::kBFloat16;
    if (c.scalar_type() == at::kFloat) {
        const sbgemm_fn f = (bf16 ? sbgemm : shgemm).load(std::memory_order_relaxed);
        return f ? f(batch, n, m, p, 1.0f, static_cast<const uint16_t *>(a.data_ptr()), strides(a),
                       static_cast<const uint16_t *>(b.data_ptr()), strides(b), 0.0f,
                       c.data_ptr<float>(), strides(c))
                 : BMM_EINVAL;
    }
    const hgemm_fn h = (bf16 ? bf16gemm : hgemm).load(std::memory_order_relaxed);
    return h ? h(batch, n, m, p, 1.0f, static_cast<const uint16_t *>(a.data_ptr()), strides(a),
                   static_cast<const uint16_t *>(b.data_ptr()), strides(b), 0.0f,
                   static_cast<uint16_t *>(c.data_ptr()), strides(c))
             : BMM_EINVAL;
}

// Runs fn with the GIL released where the product is large enough to pay for it.
template <class F>
bmm_status run_released(double madds, F fn)
{
    if (madds < GIL_FREE_MADDS)
        return fn();
    py::gil_scoped_release nogil;
    return fn();
}

// A bmmgen.Plan's call for torch tensors: the operands it was made for (dtype, out's dtype:
// float32 for a BMM_C_F32 plan, shapes, the strides of dimensions longer than 1: _plan.py's
// _free_strides) and its native plan, owned by the Python Plan, which drops this object before
// it frees the plan.
class Planned {
public:
    Planned(std::uintptr_t plan, int dtype, const std::vector<std::vector<int64_t>> &shapes,
        const std::vector<std::vector<int64_t>> &strides, bool fresh_out, int cdtype)
        : plan_(reinterpret_cast<const bmm_plan *>(plan)), dtype_(scalar_type(dtype)),
          cdtype_(scalar_type(cdtype)), fresh_out_(fresh_out)
    {
        if (shapes.size() != 3 || strides.size() != 3)
            throw std::invalid_argument("Planned: three shapes and three strides");
        for (int o = 0; o < 3; o++) {
            if (shapes[o].size() != 3 || strides[o].size() != 3)
                throw std::invalid_argument("Planned: 3-D shapes and strides");
            for (int d = 0; d < 3; d++)
                shape_[o][d] = shapes[o][d], stride_[o][d] = strides[o][d];
        }
    }

    // out (a new tensor when None) = the plan's product of a and b, or None: the Python path
    // takes the call (operands not as planned, a tensor it must check, a refusal).
    py::object call(py::handle a_obj, py::handle b_obj, py::handle out_obj) const
    {
        const bool has_out = !out_obj.is_none();
        const execute_fn e = execute.load(std::memory_order_relaxed);
        if (!e || !THPVariable_CheckExact(a_obj.ptr()) || !THPVariable_CheckExact(b_obj.ptr())
            || (has_out ? !THPVariable_CheckExact(out_obj.ptr()) : !fresh_out_))
            return py::none();
        const at::Tensor &a = THPVariable_Unpack(a_obj.ptr());
        const at::Tensor &b = THPVariable_Unpack(b_obj.ptr());
        if (!planned(a, 0) || !planned(b, 1))
            return py::none();
        at::Tensor c;
        if (has_out) {
            c = THPVariable_Unpack(out_obj.ptr());
            if (!planned(c, 2))
                return py::none();
        } else {
            c = at::empty({ shape_[2][0], shape_[2][1], shape_[2][2] }, a.options().dtype(cdtype_));
        }
        const double madds = static_cast<double>(shape_[0][0]) * shape_[0][1] * shape_[0][2]
            * shape_[1][2];
        if (run_released(madds, [&]() { return e(plan_, a.data_ptr(), b.data_ptr(), c.data_ptr()); })
            != BMM_OK)
            return py::none();
        if (has_out)
            return py::reinterpret_borrow<py::object>(out_obj);
        return py::reinterpret_steal<py::object>(THPVariable_Wrap(c));
    }

private:
    bool planned(const at::Tensor &t, int o) const
    {
        if (!plain(t) || t.scalar_type() != (o == 2 ? cdtype_ : dtype_)
            || (at::GradMode::is_enabled() && t.requires_grad()))
            return false;
        for (int d = 0; d < 3; d++)
            if (t.size(d) != shape_[o][d] || (t.size(d) != 1 && t.stride(d) != stride_[o][d]))
                return false;
        return true;
    }

    const bmm_plan *plan_;
    at::ScalarType dtype_, cdtype_;
    bool fresh_out_;
    int64_t shape_[3][3], stride_[3][3];
};

// a @ b into out (a new tensor when None); None: the Python path takes the call.
py::object bmm(py::handle a_obj, py::handle b_obj, py::handle out_obj)
{
    const bool has_out = !out_obj.is_none();
    if (!THPVariable_CheckExact(a_obj.ptr()) || !THPVariable_CheckExact(b_obj.ptr())
        || (has_out && !THPVariable_CheckExact(out_obj.ptr())) || torch::jit::tracer::isTracing())
        return py::none();
    const at::Tensor &a = THPVariable_Unpack(a_obj.ptr());
    const at::Tensor &b = THPVariable_Unpack(b_obj.ptr());
    if (!plain(a) || !plain(b) || a.scalar_type() != b.scalar_type())
        return py::none();
    const int64_t batch = a.size(0), n = a.size(1), m = a.size(2), p = b.size(2);
    if (b.size(0) != batch || b.size(1) != m)
        return py::none();
    const bool grad = at::GradMode::is_enabled();
    if (grad && (a.requires_grad() || b.requires_grad()))
        return py::none();
    at::Tensor c;
    if (has_out) {
        c = THPVariable_Unpack(out_obj.ptr());
        const bool float_c = c.scalar_type() == at::kFloat
            && (a.scalar_type() == at::kBFloat16 || a.scalar_type() == at::kHalf);
        if (!plain(c) || (c.scalar_type() != a.scalar_type() && !float_c) || c.size(0) != batch
            || c.size(1) != n || c.size(2) != p || (grad && c.requires_grad()))
            return py::none();
    } else {
        c = at::empty({ batch, n, p }, a.options());
    }
    if (run_released(static_cast<double>(batch) * n * m * p, [&]() { return product(a, b, c); })
        != BMM_OK)
        return py::none();
    if (has_out)
        return py::reinterpret_borrow<py::object>(out_obj);
    return py::reinterpret_steal<py::object>(THPVariable_Wrap(c));
}

// ---- torch.ops.bmmgen: the operators, registered here with the dispatcher ----
//
// bmm(Tensor self, Tensor mat2) and baddbmm(Tensor self, Tensor batch1, Tensor batch2, *,
// Scalar beta=1, Scalar alpha=1): a kernel for every backend (CompositeExplicitAutograd) that
// runs a plain bmm on the library at once and hands everything else to _torch_ops.py's Python
// bodies (under the GIL: their checks and errors, TypeError for an unsupported tensor); a
// Meta kernel (shapes only, for tracing and fx); an Autograd kernel whose gradients are these
// operators again (so double backward works).

// _torch_ops._bmm_nograd and _baddbmm_nograd (set_python), kept for the process's life: a
// reference dropped at exit, after the interpreter, would crash it.
std::atomic<PyObject *> python_bmm{nullptr}, python_baddbmm{nullptr};

void set_python(py::object bmm_body, py::object baddbmm_body)
{
    python_bmm = bmm_body.release().ptr();
    python_baddbmm = baddbmm_body.release().ptr();
}

at::Tensor call_python(PyObject *body, std::initializer_list<py::object> args)
{
    py::gil_scoped_acquire gil;
    if (!body)
        throw std::runtime_error("bmmgen: the operators' Python bodies are not set");
    py::handle fn(body);
    py::tuple t(args.size());
    size_t i = 0;
    for (const py::object &a : args)
        t[i++] = a;
    py::object r = fn(*t);
    if (!THPVariable_Check(r.ptr()))
        throw std::runtime_error("bmmgen: an operator's Python body returned no tensor");
    return THPVariable_Unpack(r.ptr());
}

py::object wrap(const at::Tensor &t)
{
    return py::reinterpret_steal<py::object>(THPVariable_Wrap(t));
}

at::Tensor op_bmm(const at::Tensor &a, const at::Tensor &b)
{
    if (plain(a) && plain(b) && a.scalar_type() == b.scalar_type() && b.size(0) == a.size(0)
        && b.size(1) == a.size(2)) {
        at::Tensor c = at::empty({ a.size(0), a.size(1), b.size(2) }, a.options());
        if (product(a, b, c) == BMM_OK)
            return c;
    }
    py::gil_scoped_acquire gil;  // (before the wrappers are made)
    return call_python(python_bmm.load(), { wrap(a), wrap(b) });
}

at::Tensor op_baddbmm(const at::Tensor &c, const at::Tensor &a, const at::Tensor &b,
    const at::Scalar &beta, const at::Scalar &alpha)
{
    py::gil_scoped_acquire gil;
    return call_python(python_baddbmm.load(), { wrap(c), wrap(a), wrap(b),
        py::float_(beta.toDouble()), py::float_(alpha.toDouble()) });
}

// Shapes only: what torch.bmm's meta function checks.
void check_meta(const at::Tensor &a, const at::Tensor &b)
{
    TORCH_CHECK(a.dim() == 3 && b.dim() == 3, "bmmgen: expected 3-D tensors, got ", a.dim(),
        "-D and ", b.dim(), "-D");
    TORCH_CHECK(a.size(0) == b.size(0), "bmmgen: the operands need the same number of matrices (",
        a.size(0), " and ", b.size(0), ")");
    TORCH_CHECK(a.size(2) == b.size(1), "bmmgen: the first operand's columns (", a.size(2),
        ") must equal the second's rows (", b.size(1), ")");
    TORCH_CHECK(a.scalar_type() == b.scalar_type(), "bmmgen: expected the same dtype");
}

at::Tensor meta_bmm(const at::Tensor &a, const at::Tensor &b)
{
    check_meta(a, b);
    return at::empty({ a.size(0), a.size(1), b.size(2) }, a.options());
}

at::Tensor meta_baddbmm(const at::Tensor &c, const at::Tensor &a, const at::Tensor &b,
    const at::Scalar &, const at::Scalar &)
{
    check_meta(a, b);
    std::vector<int64_t> shape{ a.size(0), a.size(1), b.size(2) };
    bool fits = c.dim() <= 3;
    for (int64_t d = 1; fits && d <= c.dim(); d++)  // from the last dimension, as broadcasting
        fits = c.size(-d) == 1 || c.size(-d) == shape[3 - d];
    TORCH_CHECK(fits, "bmmgen: input of shape ", c.sizes(), " does not broadcast to the "
        "product's ", at::IntArrayRef(shape));
    return at::empty(shape, a.options());
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

const c10::TypedOperatorHandle<at::Tensor(const at::Tensor &, const at::Tensor &)> &bmm_op()
{
    static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("bmmgen::bmm", "")
        .typed<at::Tensor(const at::Tensor &, const at::Tensor &)>();
    return op;
}

const c10::TypedOperatorHandle<at::Tensor(const at::Tensor &, const at::Tensor &,
    const at::Tensor &, const at::Scalar &, const at::Scalar &)> &baddbmm_op()
{
    static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("bmmgen::baddbmm", "")
        .typed<at::Tensor(const at::Tensor &, const at::Tensor &, const at::Tensor &,
            const at::Scalar &, const at::Scalar &)>();
    return op;
}

// alpha x y through the operators (with autograd: double backward)
at::Tensor scaled(const at::Tensor &x, const at::Tensor &y, double alpha)
{
    if (alpha == 1.0)
        return bmm_op().call(x, y);
    return baddbmm_op().call(at::zeros({}, x.options()), x, y, 0.0, alpha);
}

// dA = alpha dC B^T, dB = alpha A^T dC, where wanted
void product_grads(AutogradContext *ctx, const at::Tensor &g, const at::Tensor &a,
    const at::Tensor &b, double alpha, size_t first, variable_list &out)
{
    if (ctx->needs_input_grad(first))
        out[first] = scaled(g, b.transpose(1, 2), alpha);
    if (ctx->needs_input_grad(first + 1))
        out[first + 1] = scaled(a.transpose(1, 2), g, alpha);
}

struct BmmFunction : public torch::autograd::Function<BmmFunction> {
    static at::Tensor forward(AutogradContext *ctx, const at::Tensor &a, const at::Tensor &b)
    {
        ctx->save_for_backward({ a, b });
        at::AutoDispatchBelowADInplaceOrView below;
        return bmm_op().call(a, b);
    }
    static variable_list backward(AutogradContext *ctx, variable_list g)
    {
        variable_list saved = ctx->get_saved_variables(), out(2);
        product_grads(ctx, g[0], saved[0], saved[1], 1.0, 0, out);
        return out;
    }
};

struct BaddbmmFunction : public torch::autograd::Function<BaddbmmFunction> {
    static at::Tensor forward(AutogradContext *ctx, const at::Tensor &c, const at::Tensor &a,
        const at::Tensor &b, const at::Scalar &beta, const at::Scalar &alpha)
    {
        ctx->save_for_backward({ a, b });
        ctx->saved_data["beta"] = beta.toDouble();
        ctx->saved_data["alpha"] = alpha.toDouble();
        ctx->saved_data["c_shape"] = c.sizes().vec();
        at::AutoDispatchBelowADInplaceOrView below;
        return baddbmm_op().call(c, a, b, beta, alpha);
    }
    static variable_list backward(AutogradContext *ctx, variable_list g)
    {
        variable_list saved = ctx->get_saved_variables(), out(5);
        double beta = ctx->saved_data["beta"].toDouble();
        if (ctx->needs_input_grad(0))
            out[0] = (g[0] * beta).sum_to_size(ctx->saved_data["c_shape"].toIntVector());
        product_grads(ctx, g[0], saved[0], saved[1], ctx->saved_data["alpha"].toDouble(), 1, out);
        return out;
    }
};

// Without a gradient to record, straight to the kernel below (a Function costs 0.5 us).
bool records(std::initializer_list<const at::Tensor *> xs)
{
    if (!at::GradMode::is_enabled())
        return false;
    for (const at::Tensor *x : xs)
        if (x->requires_grad())
            return true;
    return false;
}

at::Tensor autograd_bmm(const at::Tensor &a, const at::Tensor &b)
{
    if (records({ &a, &b }))
        return BmmFunction::apply(a, b);
    at::AutoDispatchBelowADInplaceOrView below;
    return bmm_op().call(a, b);
}

at::Tensor autograd_baddbmm(const at::Tensor &c, const at::Tensor &a, const at::Tensor &b,
    const at::Scalar &beta, const at::Scalar &alpha)
{
    if (records({ &c, &a, &b }))
        return BaddbmmFunction::apply(c, a, b, beta, alpha);
    at::AutoDispatchBelowADInplaceOrView below;
    return baddbmm_op().call(c, a, b, beta, alpha);
}

}  // namespace

TORCH_LIBRARY(bmmgen, m)
{
    m.def("bmm(Tensor self, Tensor mat2) -> Tensor");
    m.def("baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) "
          "-> Tensor");
}

TORCH_LIBRARY_IMPL(bmmgen, CompositeExplicitAutograd, m)
{
    m.impl("bmm", op_bmm);
    m.impl("baddbmm", op_baddbmm);
}

TORCH_LIBRARY_IMPL(bmmgen, Meta, m)
{
    m.impl("bmm", meta_bmm);
    m.impl("baddbmm", meta_baddbmm);
}

TORCH_LIBRARY_IMPL(bmmgen, Autograd, m)
{
    m.impl("bmm", autograd_bmm);
    m.impl("baddbmm", autograd_baddbmm);
}

PYBIND11_MODULE(_native_torch, m)
{
    m.doc() = "bmmgen.bmm's C++ call path for torch tensors (a fast path: None hands a call "
              "to the Python path)";
    m.def("bind", &bind, "bind(sgemm, dgemm, bf16gemm, hgemm, sbgemm, shgemm, execute): the addresses of "
        "libbmm's functions");
    m.def("bmm", &bmm, "bmm(a, b, out): a @ b into out (None: new), or None",
        py::arg("a"), py::arg("b"), py::arg("out") = py::none());
    m.def("set_python", &set_python, "set_python(bmm, baddbmm): the operators' Python bodies, "
        "for the calls the C++ kernel leaves to them");
    py::class_<Planned>(m, "Planned", "a bmmgen.Plan's call for torch tensors")
        .def(py::init<std::uintptr_t, int, const std::vector<std::vector<int64_t>> &,
                 const std::vector<std::vector<int64_t>> &, bool, int>(),
            py::arg("plan"), py::arg("dtype"), py::arg("shapes"), py::arg("strides"),
            py::arg("fresh_out"), py::arg("cdtype"))
        .def("__call__", &Planned::call, py::arg("a"), py::arg("b"), py::arg("out") = py::none());
}
