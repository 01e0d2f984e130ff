// dist::DataParallel (keras::Strategy over DistributedDataParallel) and dist::sampler.
#include "nerve/dist/strategy.h"

#include "nerve/core/error.h"

namespace nerve::dist {

void DataParallel::begin(nn::Module& model) {
  ddp_ = std::make_unique<DistributedDataParallel>(model, options_);
}

void DataParallel::end(nn::Module&) {
  if (ddp_) stats_ = ddp_->stats();
  ddp_.reset();
}

void DataParallel::sum(std::vector<double>& values) {
  if (world_size() == 1 || values.empty()) return;
  Tensor t = from_vector<double>(values);
  all_reduce(t, ReduceOp::sum);
  values = t.to_vector<double>();
}

uint64_t DataParallel::broadcast(uint64_t value) {
  if (world_size() == 1) return value;
  Tensor t = from_vector<int64_t>({static_cast<int64_t>(value)});
  dist::broadcast(t, 0);
  return static_cast<uint64_t>(t.data<int64_t>()[0]);
}

std::shared_ptr<data::DistributedSampler> sampler(data::DistributedSamplerOptions options) {
  return std::make_shared<data::DistributedSampler>(rank(), world_size(), options);
}

}  // namespace nerve::dist
