"""Fetching a job's assets (video, audio) from paths, managed storage, https:// and s3://."""

from autovid.assets.fetcher import AssetFetcher

__all__ = ["AssetFetcher"]
