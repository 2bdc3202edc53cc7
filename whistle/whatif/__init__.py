"""What-if: the past replayed under a proposed configuration version (docs/whatif.md)."""
