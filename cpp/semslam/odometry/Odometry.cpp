#include "semslam/odometry/Odometry.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "semslam/core/Dispatch.h"
#include "semslam/frame/Preprocess.h"
#include "semslam/frame/Pyramid.h"
#include "semslam/odometry/kernel/OdometryKernels.h"

namespace semslam {
namespace odometry {

namespace {

constexpr double kPi = 3.14159265358979323846;

// 4x4 row-major rigid transforms in double on the host.
using Mat4 = std::array<double, 16>;
using Mat6 = std::array<double, 36>;
using Vec6 = std::array<double, 6>;

Mat4 ToMat4(const core::Rigid3f& r) {
    Mat4 m{};
    for (int i = 0; i < 12; ++i) m[i] = r.m[i];
    m[15] = 1.0;
    return m;
}

core::Rigid3f ToRigid(const Mat4& m) {
    core::Rigid3f r;
    for (int i = 0; i < 12; ++i) r.m[i] = static_cast<float>(m[i]);
    return r;
}

Mat4 Multiply(const Mat4& a, const Mat4& b) {
    Mat4 c{};
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            double s = 0;
            for (int k = 0; k < 4; ++k) s += a[4 * i + k] * b[4 * k + j];
            c[4 * i + j] = s;
        }
    return c;
}

Mat4 InverseRigid(const Mat4& m) {
    Mat4 r{};
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) r[4 * i + j] = m[4 * j + i];
    for (int i = 0; i < 3; ++i) r[4 * i + 3] = -(r[4 * i] * m[3] + r[4 * i + 1] * m[7] + r[4 * i + 2] * m[11]);
    r[15] = 1.0;
    return r;
}

// The SE(3) exponential of delta = (v, w): R = exp([w]x), t = V v (left Jacobian of SO(3)).
Mat4 ExpSE3(const Vec6& delta) {
    const double wx = delta[3], wy = delta[4], wz = delta[5];
    const double theta2 = wx * wx + wy * wy + wz * wz, theta = std::sqrt(theta2);
    double a, b, c;  // sin(t)/t, (1 - cos t)/t^2, (t - sin t)/t^3
    if (theta < 1e-4) {
        a = 1.0 - theta2 / 6.0;
        b = 0.5 - theta2 / 24.0;
        c = 1.0 / 6.0 - theta2 / 120.0;
    } else {
        a = std::sin(theta) / theta;
        b = (1.0 - std::cos(theta)) / theta2;
        c = (theta - std::sin(theta)) / (theta2 * theta);
    }
    const double K[9] = {0, -wz, wy, wz, 0, -wx, -wy, wx, 0};
    double K2[9];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            double s = 0;
            for (int k = 0; k < 3; ++k) s += K[3 * i + k] * K[3 * k + j];
            K2[3 * i + j] = s;
        }
    Mat4 T{};
    for (int i = 0; i < 3; ++i) {
        double t = 0;
        for (int j = 0; j < 3; ++j) {
            const double id = i == j ? 1.0 : 0.0;
            T[4 * i + j] = id + a * K[3 * i + j] + b * K2[3 * i + j];
            t += (id + b * K[3 * i + j] + c * K2[3 * i + j]) * delta[j];
        }
        T[4 * i + 3] = t;
    }
    T[15] = 1.0;
    return T;
}

double RotationAngle(const Mat4& m) {
    const double c = std::max(-1.0, std::min(1.0, 0.5 * (m[0] + m[5] + m[10] - 1.0)));
    return std::acos(c);
}

// Solves A x = b for a symmetric positive definite 6x6 by Cholesky; false when A is not.
bool SolveCholesky(const Mat6& A, const Vec6& b, Vec6* x) {
    double L[36] = {};
    for (int i = 0; i < 6; ++i) {
        for (int j = 0; j <= i; ++j) {
            double s = A[6 * i + j];
            for (int k = 0; k < j; ++k) s -= L[6 * i + k] * L[6 * j + k];
            if (i == j) {
                if (!(s > 0.0) || !std::isfinite(s)) return false;
                L[6 * i + i] = std::sqrt(s);
            } else {
                L[6 * i + j] = s / L[6 * j + j];
            }
        }
    }
    double y[6];
    for (int i = 0; i < 6; ++i) {
        double s = b[i];
        for (int k = 0; k < i; ++k) s -= L[6 * i + k] * y[k];
        y[i] = s / L[6 * i + i];
    }
    for (int i = 5; i >= 0; --i) {
        double s = y[i];
        for (int k = i + 1; k < 6; ++k) s -= L[6 * k + i] * (*x)[k];
        (*x)[i] = s / L[6 * i + i];
    }
    return true;
}

// Condition number (largest / smallest eigenvalue) of a symmetric 6x6 by cyclic Jacobi rotations;
// infinity when the smallest eigenvalue is not positive or A is not finite.
double ConditionNumber(Mat6 A) {
    for (double v : A)
        if (!std::isfinite(v)) return std::numeric_limits<double>::infinity();
    for (int sweep = 0; sweep < 50; ++sweep) {
        double off = 0, diag = 0;
        for (int i = 0; i < 6; ++i) {
            diag += A[7 * i] * A[7 * i];
            for (int j = i + 1; j < 6; ++j) off += A[6 * i + j] * A[6 * i + j];
        }
        if (off <= 1e-30 * diag) break;
        for (int p = 0; p < 6; ++p)
            for (int q = p + 1; q < 6; ++q) {
                const double apq = A[6 * p + q];
                if (apq == 0.0) continue;
                const double tau = (A[6 * q + q] - A[6 * p + p]) / (2.0 * apq);
                const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1.0 + tau * tau));
                const double c = 1.0 / std::sqrt(1.0 + t * t), s = t * c;
                for (int k = 0; k < 6; ++k) {  // A <- A G (columns p, q)
                    const double akp = A[6 * k + p], akq = A[6 * k + q];
                    A[6 * k + p] = c * akp - s * akq;
                    A[6 * k + q] = s * akp + c * akq;
                }
                for (int k = 0; k < 6; ++k) {  // A <- G^T A (rows p, q)
                    const double apk = A[6 * p + k], aqk = A[6 * q + k];
                    A[6 * p + k] = c * apk - s * aqk;
                    A[6 * q + k] = s * apk + c * aqk;
                }
            }
    }
    double lo = A[0], hi = A[0];
    for (int i = 1; i < 6; ++i) {
        lo = std::min(lo, A[7 * i]);
        hi = std::max(hi, A[7 * i]);
    }
    if (!(lo > 0.0)) return std::numeric_limits<double>::infinity();
    return hi / lo;
}

// Adds weight * (the system in the 29-value layout) to A and b.
void Accumulate(const double* system, double weight, Mat6* A, Vec6* b) {
    int k = 0;
    for (int i = 0; i < 6; ++i)
        for (int j = i; j < 6; ++j, ++k) {
            (*A)[6 * i + j] += weight * system[k];
            if (j != i) (*A)[6 * j + i] += weight * system[k];
        }
    for (int i = 0; i < 6; ++i) (*b)[i] += weight * system[21 + i];
}

void Copy(const core::Buffer<float>& src, core::Buffer<float>& dst) {
    SEMSLAM_DISPATCH(src.device(), CopyFloats, src.data(), dst.data(), static_cast<int64_t>(src.size()));
}

}  // namespace

RGBDOdometry::RGBDOdometry(const core::Device& device, int width, int height,
                           const core::PinholeIntrinsics& intrinsics, const OdometryParams& params)
    : device_(device), width_(width), height_(height), intrinsics_(intrinsics), params_(params) {
    core::CheckAvailable(device);
    if ((width >> (kLevels - 1)) < 8 || (height >> (kLevels - 1)) < 8) {
        throw std::invalid_argument("image too small for the odometry: needs at least " +
                                    std::to_string(8 << (kLevels - 1)) + " pixels a side, got " +
                                    std::to_string(width) + "x" + std::to_string(height));
    }
    if (!(intrinsics.fx > 0) || !(intrinsics.fy > 0)) throw std::invalid_argument("focal lengths must be positive");
    for (int l = 0; l < kLevels; ++l) {
        if (params.iterations[l] < (l == 0 ? 1 : 0)) {
            throw std::invalid_argument("iterations must be >= 1 at level 0 and >= 0 at coarser levels");
        }
    }
    if (!(params.pyramid_sigma_depth > 0) || !(params.icp_max_distance > 0) || !(params.icp_weight >= 0) ||
        !(params.rgb_max_depth_delta > 0) || !(params.max_condition > 1) ||
        !(params.icp_max_angle_deg > 0 && params.icp_max_angle_deg <= 90)) {
        throw std::invalid_argument(
            "odometry parameters out of range (sigma, distances and max_condition > 0 / 1, angle in (0, 90])");
    }
    for (int l = 0; l < kLevels; ++l) {
        const size_t n = static_cast<size_t>(width >> l) * (height >> l);
        Level& c = current_[l];
        c.depth = core::Buffer<float>(n, device);
        c.vertices = core::Buffer<float>(3 * n, device);
        c.normals = core::Buffer<float>(3 * n, device);
        c.intensity = core::Buffer<float>(n, device);
        c.dIdx = core::Buffer<float>(n, device);
        c.dIdy = core::Buffer<float>(n, device);
        Level& r = reference_[l];
        r.vertices = core::Buffer<float>(3 * n, device);
        r.normals = core::Buffer<float>(3 * n, device);
        r.intensity = core::Buffer<float>(n, device);
    }
}

void RGBDOdometry::SetCurrent(const core::Buffer<float>& depth_filtered, const core::Buffer<uint8_t>& rgb) {
    const size_t n = static_cast<size_t>(width_) * height_;
    core::CheckBuffer(depth_filtered, n, device_, "depth_filtered", "the odometry");
    core::CheckBuffer(rgb, 3 * n, device_, "rgb", "the odometry");
    Copy(depth_filtered, current_[0].depth);
    frame::RgbToIntensity(rgb, current_[0].intensity, width_, height_);
    for (int l = 0; l < kLevels; ++l) {
        Level& c = current_[l];
        const int w = width(l), h = height(l);
        if (l > 0) {
            frame::PyrDownDepth(current_[l - 1].depth, c.depth, width(l - 1), height(l - 1),
                                params_.pyramid_sigma_depth);
            frame::PyrDownIntensity(current_[l - 1].intensity, c.intensity, width(l - 1), height(l - 1));
        }
        frame::ComputeVertexMap(c.depth, c.vertices, w, h, intrinsics_.Scaled(1.0f / static_cast<float>(1 << l)));
        frame::ComputeNormalMap(c.vertices, c.normals, w, h);
        frame::IntensityGradients(c.intensity, c.dIdx, c.dIdy, w, h);
    }
    double valid = 0;
    SEMSLAM_DISPATCH(device_, CountValidPoints, current_[0].vertices.data(), current_[0].normals.data(),
                     static_cast<int64_t>(n), &valid);
    valid_current_ = valid;
    has_current_ = true;
}

void RGBDOdometry::SetReference(const core::Buffer<float>& vertices, const core::Buffer<float>& normals,
                                const core::Buffer<float>& intensity) {
    const size_t n = static_cast<size_t>(width_) * height_;
    core::CheckBuffer(vertices, 3 * n, device_, "reference vertices", "the odometry");
    core::CheckBuffer(normals, 3 * n, device_, "reference normals", "the odometry");
    core::CheckBuffer(intensity, n, device_, "reference intensity", "the odometry");
    Copy(vertices, reference_[0].vertices);
    Copy(normals, reference_[0].normals);
    Copy(intensity, reference_[0].intensity);
    for (int l = 1; l < kLevels; ++l) {
        const int w = width(l - 1), h = height(l - 1);
        frame::PyrDownPoints(reference_[l - 1].vertices, reference_[l].vertices, w, h, false);
        frame::PyrDownPoints(reference_[l - 1].normals, reference_[l].normals, w, h, true);
        frame::PyrDownIntensity(reference_[l - 1].intensity, reference_[l].intensity, w, h);
    }
    has_reference_ = true;
}

void RGBDOdometry::SwapCurrentToReference() {
    if (!has_current_) throw std::logic_error("SwapCurrentToReference: no current frame was set");
    for (int l = 0; l < kLevels; ++l) {
        std::swap(current_[l].vertices, reference_[l].vertices);
        std::swap(current_[l].normals, reference_[l].normals);
        std::swap(current_[l].intensity, reference_[l].intensity);
    }
    has_current_ = false;
    has_reference_ = true;
}

void RGBDOdometry::CheckLevel(int level) const {
    if (level < 0 || level >= kLevels) {
        throw std::invalid_argument("pyramid level " + std::to_string(level) + " out of range [0, " +
                                    std::to_string(kLevels) + ")");
    }
}

void RGBDOdometry::Linearise(int level, const core::Rigid3f& T_ref_cur, float rgb_sigma, double* icp, double* rgb) {
    CheckLevel(level);
    if (!has_current_ || !has_reference_) throw std::logic_error("Linearise needs a current frame and a reference");
    const Level& c = current_[level];
    const Level& r = reference_[level];
    const kernel::LevelView view{c.vertices.data(), c.normals.data(),  c.intensity.data(), c.dIdx.data(),
                                 c.dIdy.data(),     r.vertices.data(), r.normals.data(),   r.intensity.data(),
                                 width(level),      height(level),
                                 intrinsics_.Scaled(1.0f / static_cast<float>(1 << level))};
    const kernel::IcpGates icp_gates{params_.icp_max_distance,
                                     static_cast<float>(std::sin(params_.icp_max_angle_deg * kPi / 180.0))};
    const float min_gradient = params_.rgb_min_gradient[level];
    const kernel::RgbGates rgb_gates{params_.rgb_max_depth_delta, min_gradient * min_gradient};
    if (rgb_sigma < 0) {  // the RMS photometric residual at this pose
        double stats[2];
        SEMSLAM_DISPATCH(device_, RgbStats, view, T_ref_cur, rgb_gates, stats);
        rgb_sigma = stats[1] > 0 ? static_cast<float>(std::sqrt(stats[0] / stats[1])) : 1.0f;
    }
    double systems[2 * kernel::kSystemSize];  // both terms from one pass over the current pixels
    SEMSLAM_DISPATCH(device_, TrackReduce, view, T_ref_cur, icp_gates, rgb_gates, rgb_sigma, systems);
    for (int k = 0; k < kernel::kSystemSize; ++k) {
        icp[k] = systems[k];
        rgb[k] = systems[kernel::kSystemSize + k];
    }
}

TrackResult RGBDOdometry::Track(const core::Rigid3f& T_ref_cur_init) {
    if (!has_current_) throw std::logic_error("Track: no current frame (call SetCurrent first)");
    if (!has_reference_) throw std::logic_error("Track: no reference (call SetReference or SwapCurrentToReference)");
    TrackResult result;
    const Mat4 T_init = ToMat4(T_ref_cur_init);
    Mat4 T = T_init;
    const double icp_w2 = static_cast<double>(params_.icp_weight) * params_.icp_weight;
    bool degenerate = false;
    double icp[kernel::kSystemSize], rgb[kernel::kSystemSize];
    for (int level = kLevels - 1; level >= 0; --level) {
        float sigma = -1.0f;  // measured afresh at the first iteration of each level
        for (int it = 0; it < params_.iterations[level]; ++it) {
            Linearise(level, ToRigid(T), sigma, icp, rgb);
            Mat6 A{};
            Vec6 b{};
            Accumulate(icp, icp_w2, &A, &b);
            Accumulate(rgb, 1.0, &A, &b);
            if (rgb[28] > 0) sigma = static_cast<float>(std::sqrt(rgb[27] / rgb[28]));  // for the next iteration
            const double condition = ConditionNumber(A);
            Vec6 x{};
            degenerate = !(condition <= params_.max_condition) || !SolveCholesky(A, b, &x);
            if (level == 0) {
                result.inliers = static_cast<int64_t>(icp[28]);
                result.icp_rmse = icp[28] > 0 ? std::sqrt(icp[27] / icp[28]) : 0.0;
                result.rgb_count = static_cast<int64_t>(rgb[28]);
                result.rgb_rmse = rgb[28] > 0 ? std::sqrt(rgb[27] / rgb[28]) : 0.0;
                result.condition = condition;
            }
            if (degenerate) break;  // no update from an ill-conditioned system
            double norm2 = 0;
            for (int k = 0; k < 6; ++k) {
                x[k] = -x[k];
                norm2 += x[k] * x[k];
            }
            T = Multiply(ExpSE3(x), T);
            result.iterations[level] += 1;
            if (std::sqrt(norm2) < params_.convergence_epsilon) break;
        }
    }
    result.inlier_fraction = valid_current_ > 0 ? static_cast<double>(result.inliers) / valid_current_ : 0.0;
    const Mat4 D = Multiply(T, InverseRigid(T_init));
    const double jump_t = std::sqrt(D[3] * D[3] + D[7] * D[7] + D[11] * D[11]);
    const double jump_r = RotationAngle(D) * 180.0 / kPi;
    bool finite = true;
    for (double v : T) finite = finite && std::isfinite(v);
    if (result.inlier_fraction < params_.min_inlier_fraction) {
        result.reason = "too few inliers: " + std::to_string(result.inliers) + " ICP correspondences (" +
                        std::to_string(100.0 * result.inlier_fraction) + "% of valid pixels, minimum " +
                        std::to_string(100.0 * params_.min_inlier_fraction) + "%)";
    } else if (degenerate || !finite) {
        result.reason = "degenerate system: condition number " + std::to_string(result.condition) +
                        " above " + std::to_string(params_.max_condition);
    } else if (jump_t > params_.max_translation || jump_r > params_.max_rotation_deg) {
        result.reason = "implausible jump: " + std::to_string(jump_t) + " m, " + std::to_string(jump_r) +
                        " deg from the initial pose (limits " + std::to_string(params_.max_translation) + " m, " +
                        std::to_string(params_.max_rotation_deg) + " deg)";
    }
    result.ok = result.reason.empty();
    result.T_ref_cur = result.ok ? ToRigid(T) : T_ref_cur_init;
    return result;
}

}  // namespace odometry
}  // namespace semslam
