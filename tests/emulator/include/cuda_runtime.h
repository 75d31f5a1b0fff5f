// cuda_emu: cuda_runtime.h is the runtime API (the device side is cuda_emu/device.hpp).
#pragma once

#include "cuda_runtime_api.h"
