// Umbrella header for nerve::optim: optimizers, schedulers and gradient clipping.
#pragma once

#include "nerve/optim/adagrad.h"
#include "nerve/optim/adam.h"
#include "nerve/optim/clip_grad.h"
#include "nerve/optim/lr_scheduler.h"
#include "nerve/optim/optimizer.h"
#include "nerve/optim/rmsprop.h"
#include "nerve/optim/sgd.h"
