// nerve::dist, data-parallel training over MPI: collectives, DistributedDataParallel, the Keras strategy.
#pragma once
#include "nerve/dist/comm.h"
#include "nerve/dist/ddp.h"
#include "nerve/dist/strategy.h"
