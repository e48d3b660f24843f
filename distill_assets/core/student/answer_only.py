"""A Trainer whose loss applies the output head only at supervised positions.

Logits over a 150k vocabulary for every prompt token are the largest cost of a small model's
step; the prompt's are never used by the loss.
"""

from __future__ import annotations

from typing import Any

from distill_assets.core.student.chat_template import IGNORE_INDEX


def make_trainer_class() -> type:
    from transformers import Trainer

    class AnswerOnlyTrainer(Trainer):
        """Trainer whose loss applies the output head only at supervised positions.

        Logits over a 150k vocabulary for every prompt token are the largest cost of a small
        model's step; the prompt's are never used by the loss.
        """

        token_counter: int = 0
        answer_only: bool = True

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            import torch
            import torch.nn.functional as F

            mask = inputs.get("attention_mask")  # None in packed rows: every token is real
            if model.training:
                n = mask.sum() if mask is not None else inputs["input_ids"].numel()
                self.token_counter += int(n)
            unwrapped = self.accelerator.unwrap_model(model)
            if not self.answer_only or unwrapped is not model:
                self.loss_is_scaled_for_ga = None
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            causal_lm = (
                unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else model
            )
            labels = inputs["labels"]
            hidden = causal_lm.model(
                input_ids=inputs["input_ids"],
                attention_mask=mask,
                position_ids=inputs.get("position_ids"),
            ).last_hidden_state
            shift_labels = labels[:, 1:]
            keep = shift_labels != IGNORE_INDEX
            logits = causal_lm.lm_head(hidden[:, :-1][keep]).float()
            loss = F.cross_entropy(logits, shift_labels[keep], reduction="sum")
            if num_items_in_batch is not None:
                loss = loss / num_items_in_batch
                self.loss_is_scaled_for_ga = True
            else:
                loss = loss / keep.sum().clamp(min=1)
                self.loss_is_scaled_for_ga = False
            if return_outputs:
                return loss, {"loss": loss.detach(), "logits": torch.empty(0)}
            return loss

    return AnswerOnlyTrainer
