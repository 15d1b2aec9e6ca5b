"""accord.cot"""
