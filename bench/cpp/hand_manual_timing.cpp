// Times ADBench's hand-written C++ derivatives of hand tracking (adbench/, MIT, Microsoft:
// src/cpp/modules/manual/hand_d.cpp as vendored, unchanged): the objective and its Jacobian, as
// ADBench's ManualHand module computes them (column major, 3 * points rows; the complicated
// variant's columns are the two barycentric coordinates' (a block per point), then theta's).
//
//   hand_manual_timing MODEL_DIR/ INPUT simple|complicated REPEATS
//       prints the min time in ms, then the Jacobian's first 6 rows (28 or 26 numbers each)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "adbench/src/cpp/modules/manual/hand_d.h"

int main(int argc, char** argv)
{
    if (argc != 5) { std::fprintf(stderr, "usage: %s MODEL_DIR/ INPUT simple|complicated REPEATS\n", argv[0]); return 2; }
    const bool complicated = std::strcmp(argv[3], "complicated") == 0;
    std::vector<double> theta, us;
    HandDataLightMatrix data;
    read_hand_instance(argv[1], argv[2], &theta, &data, complicated ? &us : nullptr);
    const int rows = 3 * (int)data.correspondences.size(), columns = (complicated ? 2 : 0) + (int)theta.size();
    std::vector<double> err(rows), jacobian(rows * columns);
    const int repeats = std::atoi(argv[4]);
    double best = 1e300;
    for (int r = 0; r < repeats; r++) {
        auto start = std::chrono::steady_clock::now();
        if (complicated)
            hand_objective_d(theta.data(), us.data(), data, err.data(), jacobian.data());
        else
            hand_objective_d(theta.data(), data, err.data(), jacobian.data());
        std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
        best = std::min(best, elapsed.count());
    }
    std::printf("%.6f\n", best);
    for (int i = 0; i < std::min(6, rows); i++) {
        for (int k = 0; k < columns; k++) std::printf("%.17g ", jacobian[k * rows + i]);
        std::printf("\n");
    }
    return 0;
}
