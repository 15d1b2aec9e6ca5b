"""accord.core"""
