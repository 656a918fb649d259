// Times ADBench's hand-written C++ derivatives of bundle adjustment (adbench/, MIT, Microsoft:
// src/cpp/modules/manual/ba_d.cpp as vendored, unchanged): the 2 x 15 block of each observation's
// reprojection error and the weight error's derivative, as bench/gradbench.py's "ba" computes
// them (dense blocks; ADBench's own harness also inserts them into a sparse matrix).
//
//   ba_manual_timing INPUT N M P REPEATS   prints the min time in ms, then the first and last
//                                          observation's blocks (column major, 30 numbers each)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "adbench/src/cpp/shared/defs.h"
#include "adbench/src/cpp/modules/manual/ba_d.h"

int main(int argc, char** argv)
{
    if (argc != 6) { std::fprintf(stderr, "usage: %s INPUT N M P REPEATS\n", argv[0]); return 2; }
    FILE* file = std::fopen(argv[1], "r");
    if (!file) { std::perror(argv[1]); return 2; }
    int n0, m0, p0;
    double camera[BA_NCAMPARAMS], point[3], weight, feature[2];
    bool ok = std::fscanf(file, "%d %d %d", &n0, &m0, &p0) == 3;
    for (double& v : camera) ok = ok && std::fscanf(file, "%lf", &v) == 1;
    for (double& v : point) ok = ok && std::fscanf(file, "%lf", &v) == 1;
    ok = ok && std::fscanf(file, "%lf %lf %lf", &weight, &feature[0], &feature[1]) == 3;
    std::fclose(file);
    if (!ok) { std::fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    const int n = std::atoi(argv[2]), m = std::atoi(argv[3]), p = std::atoi(argv[4]), repeats = std::atoi(argv[5]);
    std::vector<double> cams(BA_NCAMPARAMS * n), X(3 * m), w(p, weight), feats(2 * p);
    for (int i = 0; i < n; i++) std::copy(camera, camera + BA_NCAMPARAMS, &cams[BA_NCAMPARAMS * i]);
    for (int i = 0; i < m; i++) std::copy(point, point + 3, &X[3 * i]);
    for (int i = 0; i < p; i++) { feats[2 * i] = feature[0]; feats[2 * i + 1] = feature[1]; }
    const int columns = 2 * (BA_NCAMPARAMS + 3 + 1);
    std::vector<double> err(2 * p), blocks(columns * p), w_err(p), w_d(p);
    double best = 1e300;
    for (int r = 0; r < repeats; r++) {
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < p; i++) {
            double* block = &blocks[columns * i];
            std::fill(block, block + columns, 0.0);
            compute_reproj_error_d(&cams[BA_NCAMPARAMS * (i % n)], &X[3 * (i % m)], w[i], feats[2 * i],
                                   feats[2 * i + 1], &err[2 * i], block);
        }
        for (int i = 0; i < p; i++) compute_zach_weight_error_d(w[i], &w_err[i], &w_d[i]);
        std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
        best = std::min(best, elapsed.count());
    }
    std::printf("%.6f\n", best);
    for (int i : {0, p - 1}) {
        for (int k = 0; k < columns; k++) std::printf("%.17g ", blocks[columns * i + k]);
        std::printf("\n");
    }
    return 0;
}
