// The umbrella header: #include <nerve/nerve.h> brings in the whole public API.
#pragma once

#include "nerve/autograd/grad_mode.h"
#include "nerve/autograd/gradcheck.h"
#include "nerve/autograd/node.h"
#include "nerve/core/dtype.h"
#include "nerve/core/error.h"
#include "nerve/core/parallel.h"
#include "nerve/core/rng.h"
#include "nerve/core/shape.h"
#include "nerve/ops/ops.h"
#include "nerve/tensor/storage.h"
#include "nerve/tensor/tensor.h"
