// A training's checkpoint file (`vaead train --checkpoint FILE`): where every model of the
// ensemble stands between two epochs, exactly, with a checksum and the fingerprint of what the
// training was given (its data, model, schedule and device), so that only the same training
// resumes from it.
#pragma once

#include <string>
#include <string_view>

#include "vaead/study/experiment.hpp"

namespace vaead {

std::string serialize_training_checkpoint(const TrainingCheckpoint& checkpoint,
                                          const std::string& fingerprint);
// InputError naming `source` when the text is not a checkpoint this version wrote, when its
// content does not match its checksum, or when it was written for another training.
TrainingCheckpoint parse_training_checkpoint(std::string_view text, const std::string& source,
                                             const std::string& fingerprint);

}  // namespace vaead
