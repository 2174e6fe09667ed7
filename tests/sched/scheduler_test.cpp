#include "kv/block_pool.h"
#include <gtest/gtest.h>
